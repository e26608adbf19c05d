output "access_key_id" {
  description = "AWS_ACCESS_KEY_ID for the app."
  value       = aws_iam_access_key.this.id
  sensitive   = true
}

output "secret_access_key" {
  description = "AWS_SECRET_ACCESS_KEY for the app."
  value       = aws_iam_access_key.this.secret
  sensitive   = true
}
