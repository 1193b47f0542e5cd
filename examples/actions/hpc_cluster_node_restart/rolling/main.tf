# Terraform 1.14 or later. Restart every compute node a few at a time:
#   terraform apply -invoke=action.hpc_cluster_node_restart.compute_rolling
# (add -var batch_size=4 to take bigger steps). Each batch is sent only once
# the previous batch's job is successful and a minute has passed, and its
# progress lines begin with "Batch 1 of N: ". timeout (in seconds) bounds the
# whole rollout, here 2 hours.
variable "batch_size" {
  description = "How many compute nodes restart at once."
  type        = number
  default     = 2
}

data "hpc_cluster_nodes" "compute" {
  cluster_id = "ehpc-8jqdq0mz"
  role       = "compute"
}

action "hpc_cluster_node_restart" "compute_rolling" {
  config {
    cluster_id = data.hpc_cluster_nodes.compute.cluster_id
    node_ids   = data.hpc_cluster_nodes.compute.ids
    rolling = {
      batch_size = var.batch_size
      pause      = "1m"
    }
    timeout = 7200
  }
}
