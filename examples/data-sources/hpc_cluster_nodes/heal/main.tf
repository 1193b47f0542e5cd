# Restart the compute nodes that fail their health check. in_service = false
# selects every node out of service; stopped = false leaves out the stopped
# ones, which need a start, not a restart: the API refuses to restart a stopped
# node (ret_code 1400), and one in node_ids would fail the whole restart, the
# sick nodes' included.
data "hpc_cluster_nodes" "sick" {
  cluster_id = "ehpc-8jqdq0mz"
  role       = "compute"
  in_service = false
  stopped    = false
}

# No record while every node serves; once some do not, one restart of exactly
# them. While they restart and boot they are still out of service (and not
# stopped), so the list does not change and nothing restarts twice; once they
# are back, the list is empty and the record goes (removing it restarts nothing).
resource "hpc_cluster_node_restart" "heal" {
  count      = length(data.hpc_cluster_nodes.sick.ids) > 0 ? 1 : 0
  cluster_id = data.hpc_cluster_nodes.sick.cluster_id
  node_ids   = data.hpc_cluster_nodes.sick.ids
}
