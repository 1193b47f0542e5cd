resource "hpc_cluster_node_restart" "upgrade" {
  cluster_id          = "ehpc-8jqdq0mz"
  node_ids            = ["cln-cmp00002", "cln-cmp00001"]
  zone                = "jn1a"
  triggers            = { kernel = "6.1.0", reason = "upgrade fixture" }
  wait_for_completion = true

  timeouts {
    create = "45m"
  }
}
