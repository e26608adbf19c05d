# One private, versioned image bucket. Browsers upload with presigned POSTs signed by the
# API, so the bucket needs CORS for POST but never any public access.
# @see https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html

resource "aws_s3_bucket" "this" {
  bucket        = var.bucket_name
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# ACLs off: every object belongs to the bucket owner. A presigned POST must therefore not
# carry an `acl` field other than bucket-owner-full-control.
resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

# Versioning is the image backup: a deleted or overwritten image stays recoverable for
# noncurrent_version_days. The API's IAM user cannot delete versions, only current objects.
resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_cors_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  cors_rule {
    allowed_methods = ["POST", "GET", "HEAD"]
    allowed_origins = var.cors_allowed_origins
    allowed_headers = ["*"]
    expose_headers  = ["ETag"]
    max_age_seconds = 3000
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  # Abandoned and stray uploads. The cleanup command (Heroku Scheduler, every 10 minutes)
  # is the primary mechanism; this rule is the backstop for objects whose row is already
  # gone, and for an incoming object the still-valid form wrote again after completion.
  # Uploads land under <prefix>/incoming/ tagged state=pending (the `tagging` field is fixed
  # by the POST policy, lib/uploads.ts); completion copies them to their final key with the
  # tag set replaced by state=ready, so a served image never matches. A tag filter, not a
  # prefix one: lifecycle prefixes start at the bucket root, and each app has its own prefix.
  rule {
    id     = "expire-abandoned-pending-uploads"
    status = "Enabled"

    filter {
      tag {
        key   = "state"
        value = "pending"
      }
    }

    expiration {
      days = var.pending_upload_days
    }
  }

  # Whole bucket: multipart leftovers, the recovery window of old versions, and the delete
  # markers left once every version of a key has expired.
  rule {
    id     = "housekeeping"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }

    expiration {
      expired_object_delete_marker = true
    }
  }

  # Lifecycle rules on a versioned bucket need versioning in place first
  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "tls_only" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.tls_only.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}
