# Roll a kernel update across every compute node, two nodes at a time after a
# canary of one, so the rest of the cluster keeps running jobs. The plan lists
# each batch's nodes before anything is sent; each batch is sent only once the
# previous batch's nodes are back in service (the health gate: active, and
# their health check passing for a minute) and the pause has passed. A node
# that does not come back within 15 minutes stops the rollout there. Changing
# the kernel version rolls again; changing rolling or health_gate alone
# restarts nothing. To watch it go, batch by batch:
#   TF_LOG_PROVIDER=INFO terraform apply
data "hpc_cluster_nodes" "compute" {
  cluster_id = "ehpc-8jqdq0mz"
  role       = "compute" # the login node and the controller keep running
}

resource "hpc_cluster_node_restart" "kernel_rollout" {
  cluster_id = data.hpc_cluster_nodes.compute.cluster_id
  node_ids   = data.hpc_cluster_nodes.compute.ids

  rolling = {
    first_batch_size = 1 # a bad kernel stops after one node
    batch_size       = 2
    pause            = "2m" # let the scheduler take the restarted nodes back first
  }

  # On by default with rolling; these settings make it stricter.
  health_gate = {
    min_healthy_time = "60s"
    healthy_deadline = "15m"
  }

  triggers = {
    kernel = "6.1.0-28"
  }

  # Bounds the whole rollout, every batch's job and every pause, not each batch.
  timeouts {
    create = "3h"
  }
}

# Each batch's nodes, job and status; status is "successful" only once every
# batch is.
output "rollout" {
  value = {
    status  = hpc_cluster_node_restart.kernel_rollout.status
    batches = hpc_cluster_node_restart.kernel_rollout.batches
  }
}
