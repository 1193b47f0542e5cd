package ehpc_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
)

// A redirect comes from something in front of the API, which did not act on the
// request: the restart fails at once with the place it points to, is never
// followed or reconciled, and is sent once.
func TestRedirectIsAClearErrorNotAnUnknownOutcome(t *testing.T) {
	var posts, reads atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
		} else {
			reads.Add(1)
		}
		http.Redirect(w, r, "https://hpc.api.example.com/api/cluster/restartNodes?"+r.URL.RawQuery, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	logs := &logRecorder{}
	c := newClient(t, srv.URL, logs, func(cfg *ehpc.Config) { cfg.HTTPClient = nil })

	_, err := c.RestartOnce(testCtx(t), simZone, simCluster, []string{"cln-cmp00001"}, nil)
	var redirect *ehpc.RedirectError
	if !errors.As(err, &redirect) {
		t.Fatalf("err = %v (%T), want *RedirectError", err, err)
	}
	var unknown *ehpc.UnknownOutcomeError
	if errors.As(err, &unknown) {
		t.Fatalf("a redirect was treated as an unknown outcome: %v", err)
	}
	if !strings.Contains(err.Error(), "https://hpc.api.example.com/api/cluster/restartNodes") || !strings.Contains(err.Error(), "not processed") {
		t.Errorf("error does not name where the endpoint redirects: %v", err)
	}
	if strings.Contains(err.Error(), "signature") || strings.Contains(err.Error(), "access_key_id") {
		t.Errorf("error quotes the redirect's query: %v", err)
	}
	if posts.Load() != 1 || reads.Load() != 0 {
		t.Errorf("POSTs = %d, reads = %d; want one POST, no operation-log reads", posts.Load(), reads.Load())
	}
	assertNoSecrets(t, "logs", logs.text(), nil)
}

// A TLS certificate this machine does not trust fails the same way every time:
// one attempt, and an error that says TLS and names the host.
func TestTLSFailureIsPermanent(t *testing.T) {
	var handshakes atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			handshakes.Add(1)
		}
	}
	srv.Config.ErrorLog = nil
	srv.StartTLS()
	t.Cleanup(srv.Close)
	for _, call := range []struct {
		name string
		run  func(c *ehpc.Client) error
	}{
		{"restart", func(c *ehpc.Client) error {
			_, err := c.RestartOnce(testCtx(t), simZone, simCluster, []string{"cln-cmp00001"}, nil)
			return err
		}},
		{"read", func(c *ehpc.Client) error {
			_, err := c.ListNodes(testCtx(t), simCluster, ehpc.NodeFilter{Zone: simZone})
			return err
		}},
	} {
		t.Run(call.name, func(t *testing.T) {
			handshakes.Store(0)
			// The default HTTP client: it trusts the system's roots, not the test server's.
			c := newClient(t, srv.URL, nil, func(cfg *ehpc.Config) { cfg.HTTPClient = nil })
			err := call.run(c)
			var connect *ehpc.ConnectError
			if !errors.As(err, &connect) || connect.Kind != "tls" {
				t.Fatalf("err = %v (%T), want a TLS *ConnectError", err, err)
			}
			if !strings.Contains(err.Error(), "TLS") || !strings.Contains(err.Error(), strings.TrimPrefix(srv.URL, "https://")) {
				t.Errorf("error does not say TLS and name the host: %v", err)
			}
			if n := handshakes.Load(); n != 1 {
				t.Errorf("%d connections, want 1: a certificate error is not retried", n)
			}
		})
	}
}

// A host name that does not exist is permanent too; one lookup, then a clear error.
func TestUnknownHostIsPermanent(t *testing.T) {
	var dials atomic.Int32
	tr := &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
		dials.Add(1)
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "hpc-api.example.invalid", IsNotFound: true}}
	}}
	c := newClient(t, "https://hpc-api.example.invalid", nil, func(cfg *ehpc.Config) { cfg.HTTPClient = &http.Client{Transport: tr} })
	_, err := c.RestartOnce(testCtx(t), simZone, simCluster, []string{"cln-cmp00001"}, nil)
	var connect *ehpc.ConnectError
	if !errors.As(err, &connect) || connect.Kind != "dns" {
		t.Fatalf("err = %v (%T), want a DNS *ConnectError", err, err)
	}
	if !strings.Contains(err.Error(), "hpc-api.example.invalid") || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("error = %v", err)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d dials, want 1", n)
	}
}
