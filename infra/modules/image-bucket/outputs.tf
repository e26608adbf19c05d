output "bucket_name" {
  description = "Name of the bucket (S3_BUCKET_NAME)."
  value       = aws_s3_bucket.this.bucket
}

output "bucket_arn" {
  description = "ARN of the bucket, for IAM policies."
  value       = aws_s3_bucket.this.arn
}
