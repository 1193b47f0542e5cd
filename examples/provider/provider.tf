# A complete configuration: install the provider from your private registry,
# configure it from the environment, restart two compute nodes once, and
# restart them again whenever var.kernel_version changes.
terraform {
  required_version = ">= 1.0"

  required_providers {
    hpc = {
      # Replace registry.example.com with your private registry's host.
      source  = "registry.example.com/qingcloud/hpc"
      version = "~> 1.0"
    }
  }
}

# access_key and secret_key come from QINGCLOUD_ACCESS_KEY and
# QINGCLOUD_SECRET_KEY; endpoint defaults to https://hpc-api.qingcloud.com.
provider "hpc" {
  zone = "jn1a"
}

variable "kernel_version" {
  description = "Kernel the compute nodes boot. Changing it restarts them."
  type        = string
  default     = "6.1.0-27"
}

resource "hpc_cluster_node_restart" "kernel_update" {
  cluster_id = "ehpc-8jqdq0mz"
  node_ids   = ["cln-hzzvbtnh", "cln-wx6w1ef2"]

  triggers = {
    kernel = var.kernel_version
  }
}

output "restart_job" {
  description = "The restart job's id in the cluster's operation log."
  value       = hpc_cluster_node_restart.kernel_update.job_id
}
