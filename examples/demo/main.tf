# The `make demo` configuration: finds the compute nodes of the simulator's demo
# cluster with the hpc_cluster_nodes data source and restarts two of them, one
# after the other.
# scripts/demo.sh points the provider at a local ehpc-sim through the QINGCLOUD_*
# environment variables and resolves the source below to the provider it just
# built (dev_overrides), so nothing is downloaded.
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

# The cluster's compute nodes (the simulator's demo cluster has four, beside a
# login node and a controller), sorted by node id. Read on every plan; reading
# restarts nothing.
data "hpc_cluster_nodes" "compute" {
  cluster_id = "ehpc-8jqdq0mz"
  role       = "compute"
}

# Restart the first two of them, cln-cmp00001 and cln-cmp00002, one at a time:
# the second is sent only once the first is back in service (active, and its
# health check passing), which the health gate, on with rolling, waits for.
resource "hpc_cluster_node_restart" "compute" {
  cluster_id = data.hpc_cluster_nodes.compute.cluster_id
  node_ids   = slice(data.hpc_cluster_nodes.compute.ids, 0, 2) # ids are sorted: the same two on every plan

  rolling = {
    batch_size = 1
  }

  # Change this value (say, to a new kernel version) to restart the nodes again.
  triggers = {
    kernel = "6.1.0-27"
  }
}

output "job_id" {
  description = "The restart job's id in the cluster's operation log."
  value       = hpc_cluster_node_restart.compute.job_id
}

output "compute_nodes" {
  description = "The compute nodes the data source found."
  value       = data.hpc_cluster_nodes.compute.ids
}

output "status" {
  description = "The restart's final status: successful once every batch was."
  value       = hpc_cluster_node_restart.compute.status
}

output "batches" {
  description = "Each batch: its node, its job, and the health gate it passed."
  value = [for b in hpc_cluster_node_restart.compute.batches : {
    node        = b.node_ids[0]
    job_id      = b.job_id
    health_gate = b.health_gate
  }]
}
