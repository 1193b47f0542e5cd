# Terraform 1.14 or later. Restart the compute nodes whenever the kernel version
# changes: the action runs in the same apply, after terraform_data.kernel is
# created (the first apply) or updated (var.kernel_version changed).
data "hpc_cluster_nodes" "compute" {
  cluster_id = "ehpc-8jqdq0mz"
  role       = "compute"
}

variable "kernel_version" {
  type    = string
  default = "6.1.0-27"
}

resource "terraform_data" "kernel" {
  input = var.kernel_version

  lifecycle {
    action_trigger {
      events  = [after_create, after_update] # the first apply, then each new kernel_version
      actions = [action.hpc_cluster_node_restart.compute]
    }
  }
}

action "hpc_cluster_node_restart" "compute" {
  config {
    cluster_id = data.hpc_cluster_nodes.compute.cluster_id
    node_ids   = data.hpc_cluster_nodes.compute.ids
  }
}
