# Terraform 1.14 or later. Restart two nodes whenever you ask:
#   terraform apply -invoke=action.hpc_cluster_node_restart.now
# Each invocation sends one restart request and, by default, waits for the job
# (here at most 20 minutes), printing progress while it runs.
action "hpc_cluster_node_restart" "now" {
  config {
    cluster_id = "ehpc-8jqdq0mz"
    node_ids   = ["cln-hzzvbtnh", "cln-wx6w1ef2"]
    timeout    = "20m"
  }
}
