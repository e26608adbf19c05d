# Image buckets: one per environment (review apps share staging's, each under its own
# prefix) and one IAM user per kind of app, each limited to its key prefixes.

module "staging_bucket" {
  source = "./modules/image-bucket"

  bucket_name             = var.staging_bucket_name
  cors_allowed_origins    = var.staging_cors_allowed_origins
  noncurrent_version_days = var.staging_noncurrent_version_days
  force_destroy           = true
}

module "production_bucket" {
  source = "./modules/image-bucket"

  bucket_name             = var.production_bucket_name
  cors_allowed_origins    = var.production_cors_allowed_origins
  noncurrent_version_days = var.production_noncurrent_version_days
  force_destroy           = false
}

module "staging_writer" {
  source = "./modules/bucket-writer"

  name         = "${var.staging_app_name}-s3"
  bucket_arn   = module.staging_bucket.bucket_arn
  key_prefixes = [var.image_key_prefix]
}

module "production_writer" {
  source = "./modules/bucket-writer"

  name         = "${var.production_app_name}-s3"
  bucket_arn   = module.production_bucket.bucket_arn
  key_prefixes = [var.image_key_prefix]
}

# Review apps use their app name (<base>-pr-<number>) as key prefix, so this user can
# neither read nor delete staging's images, and pr-predestroy can only empty review prefixes.
module "review_writer" {
  source = "./modules/bucket-writer"
  count  = var.enable_review_apps ? 1 : 0

  name         = "${local.review_app_base_name}-review-s3"
  bucket_arn   = module.staging_bucket.bucket_arn
  key_prefixes = ["${local.review_app_base_name}-pr-*"]
}
