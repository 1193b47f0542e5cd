# Restart two nodes once. The next apply restarts nothing unless an argument
# that forces replacement changes: here, the kernel version in triggers.
resource "hpc_cluster_node_restart" "kernel_update" {
  cluster_id = "ehpc-8jqdq0mz"
  node_ids   = ["cln-hzzvbtnh", "cln-wx6w1ef2"]

  triggers = {
    kernel = "6.1.0-27"
  }
}

output "restart_job" {
  value = hpc_cluster_node_restart.kernel_update.job_id
}
