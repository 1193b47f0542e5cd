package provider

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
)

// stopGrace bounds how long StopProvider waits for the actions in flight to
// report how they ended: they end within milliseconds of being cancelled
// (every wait of the rollout watches its context), so this only keeps a
// stuck one from holding Terraform's stop forever.
const stopGrace = 10 * time.Second

// ProtocolServer is the provider's protocol 6 server: the framework's, with
// StopProvider held until every action invocation in flight has sent its
// last event.
//
// Why: on the first Ctrl-C, Terraform calls StopProvider. terraform-plugin-go
// (v0.31) passes it to the framework, which cancels the invocations'
// contexts, and then closes its own stop channel; from then on it drops every
// event an invocation sends, the completed event with the action's error
// included, and ends the stream as if it had finished. Terraform (1.14, 1.15)
// reads a stream that ends without a completed event as an action that
// succeeded, so an interrupted apply -invoke could end "Apply complete!"
// with exit code 0, depending on whether the cancelled action had sent its
// error before plugin-go closed that channel. Holding StopProvider until the
// cancelled invocations have sent it makes the error reach Terraform every
// time, and the apply fail.
func ProtocolServer(p func() provider.Provider) func() tfprotov6.ProviderServer {
	return func() tfprotov6.ProviderServer {
		return holdStop(providerserver.NewProtocol6(p())(), stopGrace)
	}
}

// actionProviderServer is a provider server that serves actions; plugin-go's own
// name for it (ProviderServerWithActions) is deprecated while it folds the action
// RPCs into ProviderServer.
type actionProviderServer interface {
	tfprotov6.ProviderServer
	tfprotov6.ActionServer
}

// holdStop wraps a server that serves actions; any other is returned as is.
func holdStop(s tfprotov6.ProviderServer, grace time.Duration) tfprotov6.ProviderServer {
	a, ok := s.(actionProviderServer)
	if !ok {
		return s
	}
	return &stopHolder{actionProviderServer: a, grace: grace}
}

type stopHolder struct {
	actionProviderServer
	grace time.Duration

	mu       sync.Mutex
	inflight int
	idle     chan struct{} // closed when inflight drops to 0
}

// InvokeAction counts the invocation in flight until its stream's last event
// was taken (or the stream was abandoned).
func (s *stopHolder) InvokeAction(ctx context.Context, req *tfprotov6.InvokeActionRequest) (*tfprotov6.InvokeActionServerStream, error) {
	stream, err := s.actionProviderServer.InvokeAction(ctx, req)
	if err != nil || stream == nil || stream.Events == nil {
		return stream, err
	}
	done := s.begin()
	events := stream.Events
	return &tfprotov6.InvokeActionServerStream{Events: func(push func(tfprotov6.InvokeActionEvent) bool) {
		defer done()
		events(push)
	}}, nil
}

// StopProvider cancels what runs, as the framework does, then waits (up to
// grace) for the action invocations in flight to send their last event.
func (s *stopHolder) StopProvider(ctx context.Context, req *tfprotov6.StopProviderRequest) (*tfprotov6.StopProviderResponse, error) {
	resp, err := s.actionProviderServer.StopProvider(ctx, req)
	s.mu.Lock()
	idle := s.idle
	busy := s.inflight > 0
	s.mu.Unlock()
	if busy {
		select {
		case <-idle:
		case <-time.After(s.grace):
		case <-ctx.Done():
		}
	}
	return resp, err
}

// begin counts one invocation in; the function it returns counts it out, once.
func (s *stopHolder) begin() func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight == 0 {
		s.idle = make(chan struct{})
	}
	s.inflight++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.inflight--
			if s.inflight == 0 {
				close(s.idle)
			}
		})
	}
}
