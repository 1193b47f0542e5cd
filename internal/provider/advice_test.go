package provider

import (
	"strings"
	"testing"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
)

// The client's 1400 hint speaks the API; the restart's diagnostic still tells a
// Terraform user what to run, as it did when the hint said so itself.
func TestRestartErrorDiag_1400SaysApplyAgain(t *testing.T) {
	err := &ehpc.APIError{RetCode: ehpc.CodePermissionDenied, Message: "PermissionDenied, node [cln-cmp00001] is restarting", HTTPStatus: 200, Path: ehpc.PathRestartNodes}
	d := restartErrorDiag("ehpc-8jqdq0mz", []string{"cln-cmp00001"}, "jn1a", err)
	if !strings.Contains(d.Detail(), ehpc.Hint(ehpc.CodePermissionDenied)) || !strings.HasSuffix(d.Detail(), "Wait for the running job to finish, then apply again.") {
		t.Fatalf("detail: %s", d.Detail())
	}
}
