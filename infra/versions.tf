# Providers pinned to a major version: a new major can change resource semantics, so
# upgrading is a deliberate edit here (and `terraform init -upgrade` + a reviewed plan).
terraform {
  required_version = ">= 1.5.0, < 2.0.0"

  required_providers {
    heroku = {
      source  = "heroku/heroku"
      version = "~> 5.2"
    }
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }

  # State contains secrets (IAM access keys, Auth0 client secrets). For anything beyond a
  # first try, keep it in an encrypted remote backend, e.g.:
  #   backend "s3" {
  #     bucket       = "my-terraform-state"
  #     key          = "gallery-api/terraform.tfstate"
  #     region       = "eu-west-1"
  #     encrypt      = true
  #     use_lockfile = true
  #   }
}

# Credentials come from the environment: HEROKU_API_KEY (heroku authorizations:create)
# and the usual AWS variables or profile. Nothing secret is written in these files.
provider "heroku" {}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      project    = "gallery-api"
      managed-by = "terraform"
    }
  }
}
