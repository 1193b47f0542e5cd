# Restart the nodes whenever another part of the configuration changes, without
# copying its value into triggers: terraform_data (built into Terraform 1.4+
# and OpenTofu) holds the value, and replace_triggered_by replaces the restart
# whenever terraform_data is replaced.
variable "image_id" {
  description = "Image the compute nodes run. Changing it restarts them."
  type        = string
  default     = "img-centos79-hpc-2024"
}

resource "terraform_data" "node_image" {
  input = var.image_id
}

resource "hpc_cluster_node_restart" "compute" {
  cluster_id = "ehpc-8jqdq0mz"
  node_ids   = ["cln-cmp00001", "cln-cmp00002", "cln-cmp00003", "cln-cmp00004"]

  lifecycle {
    replace_triggered_by = [terraform_data.node_image]
  }
}
