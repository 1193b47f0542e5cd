# The filters combine: active login nodes whose name starts with "login-", in
# another zone than the provider's.
data "hpc_cluster_nodes" "login" {
  cluster_id = "ehpc-8jqdq0mz"
  zone       = "jn1a"
  role       = "login"
  status     = "active"
  name_regex = "^login-[0-9]+$"
}

output "login_node_ids" {
  value = data.hpc_cluster_nodes.login.ids
}
