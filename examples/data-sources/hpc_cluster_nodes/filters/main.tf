# The provider's zone, used by everything that sets no zone of its own.
provider "hpc" {
  zone = "jn1a"
}

# The filters combine: active login nodes whose name starts with "login-", of a
# cluster in another zone (pek3a) than the provider's (jn1a).
data "hpc_cluster_nodes" "login" {
  cluster_id = "ehpc-3fs8k2xb"
  zone       = "pek3a"
  role       = "login"
  status     = "active"
  name_regex = "^login-[0-9]+$"
}

output "login_node_ids" {
  value = data.hpc_cluster_nodes.login.ids
}
