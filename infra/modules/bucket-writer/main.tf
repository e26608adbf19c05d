# An IAM user whose keys the API uses: objects only under its key prefixes, plus ListBucket
# for the readiness probe (HeadBucket needs it) and for the cleanup and delete-prefix
# commands. No s3:DeleteObjectVersion: the API can never destroy the versioned backup.

resource "aws_iam_user" "this" {
  name = var.name
  path = "/gallery-api/"
}

data "aws_iam_policy_document" "this" {
  statement {
    sid    = "ImagesUnderPrefix"
    effect = "Allow"
    # <prefix>/* covers both keys of an upload: the presigned POST writes
    # <prefix>/incoming/<uuid>.<ext>, and completion copies it (CopyObject: GetObject on the
    # source, PutObject on the target) to <prefix>/<uuid>.<ext>, then deletes the incoming one.
    # PutObjectTagging: the POST's tagging field (state=pending) and the copy's replaced tag set
    # (state=ready) both need it. GetObject also covers HeadObject and presigned GETs.
    actions = [
      "s3:PutObject",
      "s3:PutObjectTagging",
      "s3:GetObject",
      "s3:DeleteObject",
    ]
    resources = [for prefix in var.key_prefixes : "${var.bucket_arn}/${prefix}/*"]
  }

  statement {
    sid       = "ListForHealthAndCleanup"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
  }
}

resource "aws_iam_user_policy" "this" {
  name   = "image-bucket-access"
  user   = aws_iam_user.this.name
  policy = data.aws_iam_policy_document.this.json
}

# The secret lands in Terraform state: keep state in an encrypted backend. Rotate by
# tainting this resource (terraform apply -replace=...), which also updates the config vars.
resource "aws_iam_access_key" "this" {
  user = aws_iam_user.this.name
}
