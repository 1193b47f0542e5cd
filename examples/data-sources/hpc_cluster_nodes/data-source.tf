# Every compute node of the cluster, sorted by node id.
data "hpc_cluster_nodes" "compute" {
  cluster_id = "ehpc-8jqdq0mz"
  role       = "compute" # a role as the API names it, such as login or controller
}

# Restart them all once; add a node to the cluster and the next plan restarts the
# new set (node_ids forces replacement).
resource "hpc_cluster_node_restart" "compute" {
  cluster_id = data.hpc_cluster_nodes.compute.cluster_id
  node_ids   = data.hpc_cluster_nodes.compute.ids

  triggers = {
    kernel = "6.1.0-27"
  }
}

output "compute_nodes" {
  value = { for n in data.hpc_cluster_nodes.compute.nodes : n.name => n.private_ip }
}
