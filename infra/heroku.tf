# Pipeline review -> staging -> production: the slug built for staging is promoted to
# production unchanged. Config vars are per app; review apps get theirs from the pipeline.
# @see https://devcenter.heroku.com/articles/pipelines

locals {
  review_app_base_name = var.review_app_base_name != "" ? var.review_app_base_name : var.pipeline_name
  production_preboot   = can(regex("^(standard|performance)", lower(var.production_dyno_size)))

  # Connection limits of Heroku Postgres plans (`heroku pg:info` shows "Connections: used/max";
  # check it for plans not listed here, which the preconditions below skip).
  postgres_connection_limits = {
    "heroku-postgresql:essential-0" = 20
    "heroku-postgresql:essential-1" = 20
    "heroku-postgresql:essential-2" = 40
    "heroku-postgresql:standard-0"  = 120
  }

  # Connections held outside the web pools: the release phase (1), the Scheduler's cleanup
  # one-off (1) and two for an operator (heroku pg:psql, heroku run).
  reserved_connections = 4

  # Every web process holds up to DATABASE_POOL_MAX pooled connections plus one LISTEN
  # connection (public cache invalidation); while preboot (or a restart) overlaps old and new
  # dynos, both sets are connected: x2.
  staging_peak_connections    = (var.staging_database_pool_max + 1) * var.staging_web_concurrency * 1 * 2 + local.reserved_connections
  production_peak_connections = (var.production_database_pool_max + 1) * var.production_web_concurrency * var.production_web_quantity * 2 + local.reserved_connections
}

data "heroku_team" "owner" {
  count = var.heroku_team == null ? 0 : 1
  name  = var.heroku_team
}

resource "heroku_pipeline" "gallery" {
  name = var.pipeline_name

  # Without an owner block the pipeline belongs to the user of HEROKU_API_KEY
  dynamic "owner" {
    for_each = data.heroku_team.owner
    content {
      id   = owner.value.id
      type = "team"
    }
  }
}

# --- Staging -----------------------------------------------------------------------------

resource "heroku_app" "staging" {
  name       = var.staging_app_name
  region     = var.heroku_region
  stack      = "heroku-24"
  buildpacks = ["heroku/nodejs"]

  dynamic "organization" {
    for_each = var.heroku_team == null ? [] : [var.heroku_team]
    content {
      name = organization.value
    }
  }
}

resource "heroku_pipeline_coupling" "staging" {
  app_id   = heroku_app.staging.id
  pipeline = heroku_pipeline.gallery.id
  stage    = "staging"
}

# Sets DATABASE_URL
resource "heroku_addon" "staging_postgres" {
  app_id = heroku_app.staging.id
  plan   = var.staging_postgres_plan

  lifecycle {
    precondition {
      condition     = local.staging_peak_connections <= lookup(local.postgres_connection_limits, var.staging_postgres_plan, local.staging_peak_connections)
      error_message = "Staging could open more Postgres connections than its plan allows: lower staging_database_pool_max or staging_web_concurrency, or pick a bigger plan (docs/deploy.md, connection arithmetic)."
    }
  }
}

# Runs `node dist/bin/cleanup.js` every 10 minutes; the job itself is added in the
# Scheduler dashboard (the add-on has no API for jobs). See docs/deploy.md.
resource "heroku_addon" "staging_scheduler" {
  app_id = heroku_app.staging.id
  plan   = "scheduler:standard"
}

resource "heroku_app_config_association" "staging" {
  app_id = heroku_app.staging.id

  vars = {
    ENVIRONMENT          = "staging"
    AUTH0_DOMAIN         = var.staging_auth0.domain
    AUTH0_AUDIENCE       = var.staging_auth0.audience
    AUTH0_CLIENT_ID      = var.staging_auth0.client_id
    AWS_REGION           = var.aws_region
    S3_BUCKET_NAME       = module.staging_bucket.bucket_name
    S3_KEY_PREFIX        = var.image_key_prefix
    CORS_ALLOWED_ORIGINS = join(",", var.staging_cors_allowed_origins)
    LOG_LEVEL            = "info"
    RATE_LIMIT_ENABLED   = "true"
    MAX_UPLOAD_SIZE_MB   = "10"
    DATABASE_POOL_MAX    = tostring(var.staging_database_pool_max)
    WEB_CONCURRENCY      = tostring(var.staging_web_concurrency)
  }

  sensitive_vars = {
    AUTH0_CLIENT_SECRET   = var.staging_auth0_client_secret
    AWS_ACCESS_KEY_ID     = module.staging_writer.access_key_id
    AWS_SECRET_ACCESS_KEY = module.staging_writer.secret_access_key
  }
}

resource "heroku_formation" "staging_web" {
  count = var.manage_formation ? 1 : 0

  app_id   = heroku_app.staging.id
  type     = "web"
  quantity = 1
  size     = var.staging_dyno_size
}

# --- Production --------------------------------------------------------------------------

resource "heroku_app" "production" {
  name       = var.production_app_name
  region     = var.heroku_region
  stack      = "heroku-24"
  buildpacks = ["heroku/nodejs"]
  acm        = var.production_domain != ""

  dynamic "organization" {
    for_each = var.heroku_team == null ? [] : [var.heroku_team]
    content {
      name = organization.value
    }
  }
}

resource "heroku_pipeline_coupling" "production" {
  app_id   = heroku_app.production.id
  pipeline = heroku_pipeline.gallery.id
  stage    = "production"
}

# Sets DATABASE_URL
resource "heroku_addon" "production_postgres" {
  app_id = heroku_app.production.id
  plan   = var.production_postgres_plan

  lifecycle {
    precondition {
      condition     = local.production_peak_connections <= lookup(local.postgres_connection_limits, var.production_postgres_plan, local.production_peak_connections)
      error_message = "Production could open more Postgres connections than its plan allows: lower the pool, WEB_CONCURRENCY or dyno count, or pick a bigger plan (docs/deploy.md, connection arithmetic)."
    }
  }
}

resource "heroku_addon" "production_scheduler" {
  app_id = heroku_app.production.id
  plan   = "scheduler:standard"
}

# Sets REDIS_URL: rate-limit counters shared by every dyno
resource "heroku_addon" "production_redis" {
  count = var.production_redis_plan == "" ? 0 : 1

  app_id = heroku_app.production.id
  plan   = var.production_redis_plan
}

resource "heroku_addon" "production_logs" {
  count = var.production_log_addon_plan == "" ? 0 : 1

  app_id = heroku_app.production.id
  plan   = var.production_log_addon_plan
}

resource "heroku_app_config_association" "production" {
  app_id = heroku_app.production.id

  vars = {
    ENVIRONMENT          = "production"
    AUTH0_DOMAIN         = var.production_auth0.domain
    AUTH0_AUDIENCE       = var.production_auth0.audience
    AUTH0_CLIENT_ID      = var.production_auth0.client_id
    AWS_REGION           = var.aws_region
    S3_BUCKET_NAME       = module.production_bucket.bucket_name
    S3_KEY_PREFIX        = var.image_key_prefix
    CORS_ALLOWED_ORIGINS = join(",", var.production_cors_allowed_origins)
    LOG_LEVEL            = "info"
    RATE_LIMIT_ENABLED   = "true"
    MAX_UPLOAD_SIZE_MB   = "10"
    DATABASE_POOL_MAX    = tostring(var.production_database_pool_max)
    WEB_CONCURRENCY      = tostring(var.production_web_concurrency)
  }

  sensitive_vars = {
    AUTH0_CLIENT_SECRET   = var.production_auth0_client_secret
    AWS_ACCESS_KEY_ID     = module.production_writer.access_key_id
    AWS_SECRET_ACCESS_KEY = module.production_writer.secret_access_key
  }
}

# New dynos boot and take traffic before the old ones stop, so a release's migrations must
# keep the previous code working. Only professional dyno sizes support preboot.
# @see https://devcenter.heroku.com/articles/preboot
resource "heroku_app_feature" "production_preboot" {
  count = local.production_preboot ? 1 : 0

  app_id = heroku_app.production.id
  name   = "preboot"
}

resource "heroku_formation" "production_web" {
  count = var.manage_formation ? 1 : 0

  app_id   = heroku_app.production.id
  type     = "web"
  quantity = var.production_web_quantity
  size     = var.production_dyno_size
}

resource "heroku_domain" "production" {
  count = var.production_domain == "" ? 0 : 1

  app_id   = heroku_app.production.id
  hostname = var.production_domain
}

# --- Review apps -------------------------------------------------------------------------

# Config vars every review app starts with; app.json marks them required.
resource "heroku_pipeline_config_var" "review" {
  count = var.enable_review_apps ? 1 : 0

  pipeline_id    = heroku_pipeline.gallery.id
  pipeline_stage = "review"

  vars = {
    AUTH0_DOMAIN         = var.staging_auth0.domain
    AUTH0_AUDIENCE       = var.staging_auth0.audience
    AUTH0_CLIENT_ID      = var.staging_auth0.client_id
    AWS_REGION           = var.aws_region
    S3_BUCKET_NAME       = module.staging_bucket.bucket_name
    CORS_ALLOWED_ORIGINS = join(",", var.staging_cors_allowed_origins)
  }

  sensitive_vars = {
    AUTH0_CLIENT_SECRET   = var.staging_auth0_client_secret
    AWS_ACCESS_KEY_ID     = module.review_writer[0].access_key_id
    AWS_SECRET_ACCESS_KEY = module.review_writer[0].secret_access_key
  }
}

# Needs the pipeline connected to GitHub first (a manual step: dashboard or
# `heroku pipelines:connect`); hence the flag.
resource "heroku_review_app_config" "gallery" {
  count = var.enable_review_apps ? 1 : 0

  pipeline_id           = heroku_pipeline.gallery.id
  org_repo              = var.github_repository
  automatic_review_apps = true
  base_name             = local.review_app_base_name
  destroy_stale_apps    = true
  stale_days            = 5
  wait_for_ci           = true

  deploy_target {
    id   = var.heroku_region
    type = "region"
  }

  lifecycle {
    precondition {
      condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
      error_message = "Set github_repository (owner/name) to enable review apps."
    }
  }

  depends_on = [heroku_pipeline_config_var.review]
}
