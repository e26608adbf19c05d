# Inputs. Secrets have no default and are `sensitive`: pass them as TF_VAR_* environment
# variables (never in a committed file). See terraform.tfvars.example and docs/deploy.md.

# --- Heroku ------------------------------------------------------------------------------

variable "pipeline_name" {
  description = "Name of the Heroku pipeline (review -> staging -> production)."
  type        = string
  default     = "gallery-api"
}

variable "heroku_team" {
  description = "Heroku Team that owns the pipeline and apps; null for a personal account."
  type        = string
  default     = null
}

variable "heroku_region" {
  description = "Heroku Common Runtime region: us (AWS us-east-1) or eu (AWS eu-west-1). Keep the bucket in the matching AWS region."
  type        = string
  default     = "us"

  validation {
    condition     = contains(["us", "eu"], var.heroku_region)
    error_message = "heroku_region must be us or eu."
  }
}

variable "staging_app_name" {
  description = "Globally unique Heroku app name for staging."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,29}$", var.staging_app_name))
    error_message = "Heroku app names are 3-30 characters: lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "production_app_name" {
  description = "Globally unique Heroku app name for production."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,29}$", var.production_app_name))
    error_message = "Heroku app names are 3-30 characters: lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "staging_postgres_plan" {
  description = "Heroku Postgres plan for staging (Essential plans allow about 20 connections)."
  type        = string
  default     = "heroku-postgresql:essential-0"
}

variable "production_postgres_plan" {
  description = "Heroku Postgres plan for production (Standard plans allow about 120+ connections, rollback and followers)."
  type        = string
  default     = "heroku-postgresql:standard-0"
}

variable "staging_dyno_size" {
  description = "Web dyno size for staging (applied when manage_formation is true)."
  type        = string
  default     = "basic"
}

variable "production_dyno_size" {
  description = "Web dyno size for production. Preboot needs a professional size (standard-* or performance-*)."
  type        = string
  default     = "standard-1x"
}

variable "production_web_quantity" {
  description = "Number of production web dynos (applied when manage_formation is true)."
  type        = number
  default     = 1

  validation {
    condition     = var.production_web_quantity >= 1
    error_message = "Production needs at least one web dyno."
  }
}

variable "manage_formation" {
  description = "Manage dyno size and count here. Leave false until each app has had its first deploy: Heroku can only scale a process type that exists."
  type        = bool
  default     = false
}

variable "staging_web_concurrency" {
  description = "WEB_CONCURRENCY for staging: Node processes per dyno (set explicitly so the connection arithmetic does not depend on the buildpack's default)."
  type        = number
  default     = 1
}

variable "production_web_concurrency" {
  description = "WEB_CONCURRENCY for production: 1 per 512 MB of dyno memory is a safe start (standard-1x: 1, standard-2x: 2)."
  type        = number
  default     = 1
}

variable "staging_database_pool_max" {
  description = "DATABASE_POOL_MAX for staging: connections per web process."
  type        = number
  default     = 4
}

variable "production_database_pool_max" {
  description = "DATABASE_POOL_MAX for production. Check: pool x WEB_CONCURRENCY x dynos x 2 (preboot) + 1 (release) + headroom <= the plan's connection limit."
  type        = number
  default     = 4
}

variable "production_domain" {
  description = "Custom domain for production (e.g. api.example.com); empty for none. Point a CNAME at the dns_target output; Heroku ACM issues the certificate."
  type        = string
  default     = ""
}

variable "production_log_addon_plan" {
  description = "Optional log add-on plan for production (any log add-on from the Elements marketplace); empty for none."
  type        = string
  default     = ""
}

variable "production_redis_plan" {
  description = "Optional Heroku Key-Value Store plan (sets REDIS_URL) so rate limits are shared across dynos; empty for none."
  type        = string
  default     = ""
}

# --- Review apps -------------------------------------------------------------------------

variable "enable_review_apps" {
  description = "Create the review app configuration. The pipeline must first be connected to GitHub by hand (dashboard or `heroku pipelines:connect`)."
  type        = bool
  default     = false
}

variable "github_repository" {
  description = "GitHub repository (owner/name) connected to the pipeline; required when enable_review_apps is true."
  type        = string
  default     = ""
}

variable "review_app_base_name" {
  description = "Prefix of review app names (<base>-pr-<number>); empty uses pipeline_name. Review apps may only write under these names in the staging bucket."
  type        = string
  default     = ""

  validation {
    condition     = var.review_app_base_name == "" || can(regex("^[a-z][a-z0-9-]{2,21}$", var.review_app_base_name))
    error_message = "review_app_base_name must leave room for -pr-NNNN inside Heroku's 30-character limit."
  }
}

# --- Auth0 -------------------------------------------------------------------------------

variable "staging_auth0" {
  description = "Auth0 settings for staging and review apps: tenant domain, API identifier (audience) and application client id."
  type = object({
    domain    = string
    audience  = string
    client_id = string
  })

  validation {
    condition     = can(regex("^[A-Za-z0-9.-]+(:[0-9]+)?$", var.staging_auth0.domain))
    error_message = "domain is the bare tenant domain, e.g. gallery-staging.eu.auth0.com (no https://)."
  }
}

variable "production_auth0" {
  description = "Auth0 settings for production."
  type = object({
    domain    = string
    audience  = string
    client_id = string
  })

  validation {
    condition     = can(regex("^[A-Za-z0-9.-]+(:[0-9]+)?$", var.production_auth0.domain))
    error_message = "domain is the bare tenant domain, e.g. gallery.eu.auth0.com (no https://)."
  }
}

variable "staging_auth0_client_secret" {
  description = "Client secret of the staging Auth0 application (TF_VAR_staging_auth0_client_secret)."
  type        = string
  sensitive   = true
}

variable "production_auth0_client_secret" {
  description = "Client secret of the production Auth0 application (TF_VAR_production_auth0_client_secret)."
  type        = string
  sensitive   = true
}

# --- S3 ----------------------------------------------------------------------------------

variable "aws_region" {
  description = "AWS region of the buckets; match the Heroku region (us-east-1 for us, eu-west-1 for eu)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z0-9-]+$", var.aws_region))
    error_message = "aws_region looks like us-east-1."
  }
}

variable "staging_bucket_name" {
  description = "Globally unique S3 bucket name for staging (review apps share it under per-app prefixes)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.staging_bucket_name))
    error_message = "S3 bucket names are 3-63 lowercase letters, digits, dots and dashes."
  }
}

variable "production_bucket_name" {
  description = "Globally unique S3 bucket name for production."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.production_bucket_name))
    error_message = "S3 bucket names are 3-63 lowercase letters, digits, dots and dashes."
  }
}

variable "image_key_prefix" {
  description = "Key prefix of images in the staging and production buckets (S3_KEY_PREFIX). Set explicitly so dyno metadata (HEROKU_APP_NAME) never changes it."
  type        = string
  default     = "images"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,62}$", var.image_key_prefix))
    error_message = "image_key_prefix must match S3_KEY_PREFIX in lib/config.ts."
  }
}

variable "staging_cors_allowed_origins" {
  description = "Front-end origins allowed to call the staging API and POST to the staging bucket."
  type        = list(string)

  validation {
    condition     = length(var.staging_cors_allowed_origins) > 0 && alltrue([for o in var.staging_cors_allowed_origins : can(regex("^https?://[^\\s,*/]+$", o))])
    error_message = "List origins as scheme://host[:port], without a path, a wildcard or a trailing slash."
  }
}

variable "production_cors_allowed_origins" {
  description = "Front-end origins allowed to call the production API and POST to the production bucket (https only)."
  type        = list(string)

  validation {
    condition     = length(var.production_cors_allowed_origins) > 0 && alltrue([for o in var.production_cors_allowed_origins : can(regex("^https://[^\\s,*/]+$", o))])
    error_message = "List https origins as https://host[:port], without a path, a wildcard or a trailing slash."
  }
}

variable "staging_noncurrent_version_days" {
  description = "Days a deleted or overwritten image stays recoverable in the staging bucket."
  type        = number
  default     = 7
}

variable "production_noncurrent_version_days" {
  description = "Days a deleted or overwritten image stays recoverable in the production bucket."
  type        = number
  default     = 30
}
