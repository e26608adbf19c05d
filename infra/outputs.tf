output "pipeline_id" {
  description = "UUID of the pipeline."
  value       = heroku_pipeline.gallery.id
}

output "staging_url" {
  description = "Default URL of the staging app."
  value       = heroku_app.staging.web_url
}

output "production_url" {
  description = "Default URL of the production app."
  value       = heroku_app.production.web_url
}

output "production_dns_target" {
  description = "CNAME target for production_domain (empty without a custom domain)."
  value       = one(heroku_domain.production[*].cname)
}

output "staging_bucket" {
  description = "Staging bucket (shared by review apps)."
  value       = module.staging_bucket.bucket_name
}

output "production_bucket" {
  description = "Production bucket."
  value       = module.production_bucket.bucket_name
}
