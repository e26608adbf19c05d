variable "bucket_name" {
  description = "Globally unique bucket name."
  type        = string
}

variable "cors_allowed_origins" {
  description = "Origins allowed to POST uploads straight from the browser (the API's CORS_ALLOWED_ORIGINS)."
  type        = list(string)
}

variable "noncurrent_version_days" {
  description = "Days a deleted or overwritten object version is kept (recovery window)."
  type        = number
}

variable "pending_upload_days" {
  description = "Days after which an object still tagged state=pending (never completed) expires."
  type        = number
  default     = 1
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete a non-empty bucket. Keep false for production."
  type        = bool
  default     = false
}
