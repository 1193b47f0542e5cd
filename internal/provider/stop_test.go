package provider

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// interruptAction invokes the action on srv, and once its job runs, stops the
// provider the way terraform-plugin-go v0.31 does on Terraform's first
// Ctrl-C: StopProvider on the server, then its own stop channel closed, after
// which its event loop drops whatever the invocation sends next (see
// ProtocolServer). It returns the events that would have reached Terraform.
func interruptAction(t *testing.T, e *testEnv, srv tfprotov6.ProviderServer) []tfprotov6.InvokeActionEvent {
	t.Helper()
	p := &protoProvider{t: t, e: e, srv: srv.(actionProviderServer)}
	schema, err := srv.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	p.schema = schema
	p.mustConfigure(e.simProviderConfig())
	stream, err := p.srv.InvokeAction(context.Background(), &tfprotov6.InvokeActionRequest{ActionType: actionType, Config: p.actionConfig(actionArgs(nil, "cln-cmp00001"))})
	if err != nil {
		t.Fatal(err)
	}
	stopCh := make(chan struct{})
	requested := make(chan struct{})
	delivered := make(chan []tfprotov6.InvokeActionEvent)
	go func() {
		var got []tfprotov6.InvokeActionEvent
		for ev := range stream.Events { // plugin-go's loop: a closed stop channel ends it
			select {
			case <-stopCh:
				delivered <- got
				return
			default:
			}
			got = append(got, ev)
			if pr, ok := ev.Type.(tfprotov6.ProgressInvokeActionEventType); ok && strings.Contains(pr.Message, "requested: job") {
				close(requested)
			}
		}
		delivered <- got
	}()
	select {
	case <-requested:
	case <-time.After(10 * time.Second):
		t.Fatal("the restart was not requested")
	}
	if _, err := srv.StopProvider(context.Background(), &tfprotov6.StopProviderRequest{}); err != nil {
		t.Fatal(err)
	}
	close(stopCh)
	return <-delivered
}

func completedError(events []tfprotov6.InvokeActionEvent) string {
	for _, ev := range events {
		if c, ok := ev.Type.(tfprotov6.CompletedInvokeActionEventType); ok {
			return strings.Join(errorsOf(c.Diagnostics), "\n")
		}
	}
	return ""
}

// An action stopped while its job runs (Terraform's first Ctrl-C) sends its
// error before the plugin library stops passing events on, every time, so the
// interrupted apply fails instead of ending "Apply complete!" with exit code
// 0. The framework's server alone loses it: that is the control.
func TestStoppedActionReportsItsError(t *testing.T) {
	// Each stop on a simulator of its own: the stopped restart's node is
	// still restarting in the one before.
	stop := func(hold bool) string {
		e := newTestEnv(t, ehpcsim.Options{JobDuration: time.Minute})
		s, err := providerserver.NewProtocol6WithError(newWithOptions("test", e.options())())()
		if err != nil {
			t.Fatal(err)
		}
		if hold {
			s = holdStop(s, stopGrace)
		}
		return completedError(interruptAction(t, e, s))
	}
	for i := range 5 {
		if got := stop(true); !strings.Contains(got, "Restart Action Cancelled") || !strings.Contains(got, "may still be running") {
			t.Fatalf("try %d: the stopped action's last event says %q, want its Restart Action Cancelled error", i+1, got)
		}
	}
	lost := 0
	for range 5 {
		if stop(false) == "" {
			lost++
		}
	}
	if lost == 0 {
		t.Fatal("without holding StopProvider, the stopped action's error was never lost: the mimic of plugin-go does not show what the hold is for")
	}
	t.Logf("without the hold, the error was lost in %d of 5 stops", lost)
}
