package provider

import (
	"errors"
	"strings"
	"testing"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/rollout"
)

// The client's 1400 hint speaks the API; the restart's diagnostic still tells a
// Terraform user what to run, as it did when the hint said so itself.
func TestRejectedRestart_1400SaysApplyAgain(t *testing.T) {
	err := &ehpc.APIError{RetCode: ehpc.CodePermissionDenied, Message: "PermissionDenied, node [cln-cmp00001] is restarting", HTTPStatus: 200, Path: ehpc.PathRestartNodes}
	e := ending{res: rollout.Result{Batches: rollout.Split([]string{"cln-cmp00001"}, 0, 0), End: rollout.Rejected, Err: err},
		spec: rollout.Spec{ClusterID: "ehpc-8jqdq0mz", Zone: "jn1a"}, s: onCreate, scrub: func(s string) string { return s }}
	summary, d := e.rejected(e.res.Stopped())
	if summary != "Restart Request Rejected" || !strings.Contains(d, ehpc.Hint(ehpc.CodePermissionDenied)) || !strings.HasSuffix(d, "Wait for the running job to finish, then apply again.") {
		t.Fatalf("%s: %s", summary, d)
	}
	if !errors.As(e.res.Err, new(*ehpc.APIError)) {
		t.Fatal("not an API error")
	}
}
