variable "name" {
  description = "IAM user name."
  type        = string
}

variable "bucket_arn" {
  description = "ARN of the image bucket."
  type        = string
}

variable "key_prefixes" {
  description = "Key prefixes (without trailing slash) this user may write, read and delete under; IAM wildcards allowed, e.g. gallery-api-pr-*."
  type        = list(string)

  validation {
    condition     = length(var.key_prefixes) > 0 && alltrue([for p in var.key_prefixes : p != "" && p != "*" && !endswith(p, "/")])
    error_message = "Each key prefix must be a non-empty name without a trailing slash, never the whole bucket."
  }
}
