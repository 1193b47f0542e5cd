# The `make demo` configuration: restarts two compute nodes of the simulator's demo
# cluster. scripts/demo.sh points the provider at a local ehpc-sim through the
# QINGCLOUD_* environment variables and resolves the source below to the provider
# it just built (dev_overrides), so nothing is downloaded.
terraform {
  required_providers {
    hpc = {
      source = "registry.example.com/qingcloud/hpc"
    }
  }
}

# endpoint, access_key, secret_key and zone come from QINGCLOUD_HPC_ENDPOINT,
# QINGCLOUD_ACCESS_KEY, QINGCLOUD_SECRET_KEY and QINGCLOUD_ZONE.
provider "hpc" {}

resource "hpc_cluster_node_restart" "compute" {
  cluster_id = "ehpc-8jqdq0mz"
  node_ids   = ["cln-cmp00001", "cln-cmp00002"]

  # Change this value (say, to a new kernel version) to restart the nodes again.
  triggers = {
    kernel = "6.1.0-27"
  }
}

output "job_id" {
  description = "The restart job's id in the cluster's operation log."
  value       = hpc_cluster_node_restart.compute.job_id
}

output "status" {
  description = "The restart job's final status."
  value       = hpc_cluster_node_restart.compute.status
}
