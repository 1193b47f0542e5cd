package provider

import "github.com/qingcloud/terraform-provider-hpc/internal/ehpc"

// terraformAdvice is what to do about an API ret_code in Terraform's terms, the
// sentence the client's hint (ehpc.Hint, in the API's terms) leaves to its
// caller; "" when the hint says it all.
func terraformAdvice(retCode int) string {
	switch retCode {
	case ehpc.CodePermissionDenied:
		return " Wait for the running job to finish, then apply again."
	}
	return ""
}
