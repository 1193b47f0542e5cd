# Credentials set in the provider block win over the environment. Pass them in
# as variables (for example TF_VAR_qingcloud_secret_key) rather than writing
# them into the configuration.
terraform {
  required_providers {
    hpc = {
      source = "registry.example.com/qingcloud/hpc"
    }
  }
}

variable "qingcloud_access_key" {
  type = string
}

variable "qingcloud_secret_key" {
  type      = string
  sensitive = true
}

provider "hpc" {
  endpoint   = "https://hpc-api.qingcloud.com"
  access_key = var.qingcloud_access_key
  secret_key = var.qingcloud_secret_key
  zone       = "jn1a"
}
