# Restart every compute node that is out of service: stopped, stuck in a
# transition, or failing its health check.
data "hpc_cluster_nodes" "sick" {
  cluster_id = "ehpc-8jqdq0mz"
  role       = "compute"
  in_service = false
}

# No record while every node serves; once some do not, one restart of exactly
# them. While they restart and boot they are still out of service, so the list
# does not change and nothing restarts twice; once they are back, the list is
# empty and the record goes (removing it restarts nothing).
resource "hpc_cluster_node_restart" "heal" {
  count      = length(data.hpc_cluster_nodes.sick.ids) > 0 ? 1 : 0
  cluster_id = data.hpc_cluster_nodes.sick.cluster_id
  node_ids   = data.hpc_cluster_nodes.sick.ids
}
