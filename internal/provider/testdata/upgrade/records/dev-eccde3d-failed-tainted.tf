resource "hpc_cluster_node_restart" "test" {
  cluster_id = "ehpc-8jqdq0mz"
  node_ids   = ["cln-cmp00004", "cln-cmp00003", "cln-cmp00002", "cln-cmp00001"]
  zone       = "jn1a"
  rolling    = { batch_size = 1 }
}
