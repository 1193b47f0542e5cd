# Roll a kernel update across every compute node, two nodes at a time, so the
# rest of the cluster keeps running jobs. The plan lists each batch's nodes
# before anything is sent; each batch is sent only once the previous batch's
# job is successful and the pause has passed. Changing the kernel version rolls
# again; changing rolling alone restarts nothing. To watch it go, batch by batch:
#   TF_LOG_PROVIDER=INFO terraform apply
data "hpc_cluster_nodes" "compute" {
  cluster_id = "ehpc-8jqdq0mz"
  role       = "compute" # the login node and the controller keep running
}

resource "hpc_cluster_node_restart" "kernel_rollout" {
  cluster_id = data.hpc_cluster_nodes.compute.cluster_id
  node_ids   = data.hpc_cluster_nodes.compute.ids

  rolling = {
    batch_size = 2
    pause      = "2m" # let the scheduler take the restarted nodes back first
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
