# Terraform 1.14 or later. Restart every compute node two at a time:
#   terraform apply -invoke=action.hpc_cluster_node_restart.compute_rolling
# Each batch is sent only once the previous batch's job is successful and a
# minute has passed, and its progress lines begin with "Batch 1 of N: ".
# timeout bounds the whole rollout.

data "hpc_cluster_nodes" "compute" {
  cluster_id = "ehpc-8jqdq0mz"
  role       = "compute"
}

action "hpc_cluster_node_restart" "compute_rolling" {
  config {
    cluster_id = data.hpc_cluster_nodes.compute.cluster_id
    node_ids   = data.hpc_cluster_nodes.compute.ids
    rolling = {
      batch_size = 2
      pause      = "1m"
    }
    timeout = "2h"
  }
}
