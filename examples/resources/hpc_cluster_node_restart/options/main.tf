# A restart in another zone than the provider's, with a longer wait.
resource "hpc_cluster_node_restart" "gpu_nodes" {
  cluster_id = "ehpc-8jqdq0mz"
  node_ids   = ["cln-gpu00001", "cln-gpu00002", "cln-gpu00003"]
  zone       = "pek3"

  triggers = {
    driver = "550.90.07"
  }

  timeouts {
    create = "45m"
  }
}

# Fire and forget: the apply returns as soon as the API accepted the restart,
# with status = "pending". A job that fails later does not fail this apply.
resource "hpc_cluster_node_restart" "login_node" {
  cluster_id          = "ehpc-8jqdq0mz"
  node_ids            = ["cln-login001"]
  wait_for_completion = false
}
