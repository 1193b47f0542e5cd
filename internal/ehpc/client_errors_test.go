package ehpc_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/clock"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// wantAPIError checks that err carries an *ehpc.APIError with the given code,
// a message containing msgPart, HTTP 200, and the code's hint in its text.
func wantAPIError(t *testing.T, err error, code int, msgPart string) {
	t.Helper()
	var apiErr *ehpc.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %T %v, want *ehpc.APIError", err, err)
	}
	if apiErr.RetCode != code {
		t.Errorf("RetCode = %d, want %d (err: %v)", apiErr.RetCode, code, err)
	}
	if !strings.Contains(apiErr.Message, msgPart) {
		t.Errorf("Message = %q, want it to contain %q", apiErr.Message, msgPart)
	}
	if apiErr.HTTPStatus != http.StatusOK {
		t.Errorf("HTTPStatus = %d, want 200", apiErr.HTTPStatus)
	}
	hint := ehpc.Hint(code)
	if hint == "" {
		t.Fatalf("no hint for ret_code %d", code)
	}
	text := err.Error()
	if !strings.Contains(text, hint) {
		t.Errorf("error text lacks the hint for %d:\n%s", code, text)
	}
	if !strings.Contains(text, fmt.Sprintf("ret_code %d", code)) || !strings.Contains(text, apiErr.Message) {
		t.Errorf("error text lacks the code or the API's message:\n%s", text)
	}
	assertNoSecrets(t, "error", text, nil)
	var unknown *ehpc.UnknownOutcomeError
	if errors.As(err, &unknown) {
		t.Errorf("a definite API refusal is reported as an unknown outcome: %v", err)
	}
}

func TestErrorCodesReachCallerWithHints(t *testing.T) {
	t.Run("1100 injected on a read", func(t *testing.T) {
		h := newHarness(t, ehpcsim.Options{})
		h.sim.InjectFault(ehpc.PathOperations, ehpcsim.Fault{RetCode: 1100})
		_, err := h.client().Operations(testCtx(t), ehpc.OperationQuery{Zone: simZone})
		wantAPIError(t, err, ehpc.CodeBadParameter, "InvalidParameter")
		if n := h.sim.Requests(ehpc.PathOperations); n != 1 {
			t.Errorf("1100 was sent %d times, want 1 (not retryable)", n)
		}
	})
	t.Run("1100 from an unknown zone", func(t *testing.T) {
		h := newHarness(t, ehpcsim.Options{})
		_, err := h.client().RestartNodes(testCtx(t), "pek3", simCluster, []string{"cln-cmp00001"})
		wantAPIError(t, err, ehpc.CodeBadParameter, "zone [pek3]")
		if n := h.sim.Requests(ehpc.PathRestartNodes) + h.sim.Requests(ehpc.PathRestartNodesAlias); n != 1 {
			t.Errorf("restart sent %d times, want 1", n)
		}
	})
	t.Run("1200 wrong secret", func(t *testing.T) {
		h := newHarness(t, ehpcsim.Options{})
		c := h.client(func(cfg *ehpc.Config) { cfg.SecretKey = "not-the-secret" })
		_, err := c.Operations(testCtx(t), ehpc.OperationQuery{Zone: simZone})
		wantAPIError(t, err, ehpc.CodeAuthFailed, "signature not matched")
		if n := h.sim.Requests(ehpc.PathOperations); n != 1 {
			t.Errorf("1200 was sent %d times, want 1", n)
		}
	})
	t.Run("1300 clock five minutes slow", func(t *testing.T) {
		h := newHarness(t, ehpcsim.Options{TimestampValidity: time.Minute})
		c := h.client(func(cfg *ehpc.Config) { cfg.Clock = clock.Offset(clock.Real(), -5*time.Minute) })
		_, err := c.ListNodes(testCtx(t), simCluster, ehpc.NodeFilter{Zone: simZone})
		wantAPIError(t, err, ehpc.CodeRequestExpired, "older than 60 seconds")
		if !strings.Contains(err.Error(), "clock") {
			t.Errorf("1300 error does not point at the clock: %v", err)
		}
	})
	t.Run("2100 unknown cluster and node", func(t *testing.T) {
		h := newHarness(t, ehpcsim.Options{})
		c := h.client()
		_, err := c.RestartNodes(testCtx(t), simZone, "ehpc-nosuch01", []string{"cln-cmp00001"})
		wantAPIError(t, err, ehpc.CodeNotFound, "cluster [ehpc-nosuch01] not found")
		_, err = c.RestartNodes(testCtx(t), simZone, simCluster, []string{"cln-cmp00001", "cln-nosuch01"})
		wantAPIError(t, err, ehpc.CodeNotFound, "cln-nosuch01")
		if n := h.sim.Restarts("cln-cmp00001"); n != 0 {
			t.Errorf("cln-cmp00001 restarted %d times by a refused request", n)
		}
	})
	t.Run("1400 node already restarting", func(t *testing.T) {
		h := newHarness(t, ehpcsim.Options{JobDuration: time.Hour})
		c := h.client()
		if _, err := c.RestartNodes(testCtx(t), simZone, simCluster, []string{"cln-cmp00001"}); err != nil {
			t.Fatal(err)
		}
		_, err := c.RestartNodes(testCtx(t), simZone, simCluster, []string{"cln-cmp00001", "cln-cmp00002"})
		wantAPIError(t, err, ehpc.CodePermissionDenied, "cln-cmp00001] is restarting")
		if n := h.sim.Restarts("cln-cmp00001"); n != 1 {
			t.Errorf("cln-cmp00001 restarted %d times, want 1", n)
		}
		if n := h.sim.Requests(ehpc.PathRestartNodes); n != 2 {
			t.Errorf("restart POSTs = %d, want 2 (1400 is not retried)", n)
		}
	})
	t.Run("2500 injected", func(t *testing.T) {
		h := newHarness(t, ehpcsim.Options{})
		h.sim.InjectFault(ehpc.PathListNodes, ehpcsim.Fault{RetCode: 2500})
		_, err := h.client().ListNodes(testCtx(t), simCluster, ehpc.NodeFilter{Zone: simZone})
		wantAPIError(t, err, ehpc.CodeQuotaExceeded, "QuotaExceeded")
		if n := h.sim.Requests(ehpc.PathListNodes); n != 1 {
			t.Errorf("2500 was sent %d times, want 1 (retrying soon does not help)", n)
		}
	})
	t.Run("2500 real quota", func(t *testing.T) {
		h := newHarness(t, ehpcsim.Options{QuotaPerHour: 2})
		c := h.client()
		for i := 0; i < 2; i++ {
			if _, err := c.Operations(testCtx(t), ehpc.OperationQuery{Zone: simZone}); err != nil {
				t.Fatal(err)
			}
		}
		_, err := c.RestartNodes(testCtx(t), simZone, simCluster, []string{"cln-cmp00001"})
		wantAPIError(t, err, ehpc.CodeQuotaExceeded, "quota")
		if n := h.sim.Restarts("cln-cmp00001"); n != 0 {
			t.Errorf("restart over quota happened %d times", n)
		}
	})
}

func TestHTMLGatewayPageOnReadIsRetriedThenQuoted(t *testing.T) {
	h := newHarness(t, ehpcsim.Options{})
	h.sim.InjectFault(ehpc.PathOperations, ehpcsim.Fault{Count: 10, HTTPStatus: http.StatusBadGateway})
	c := h.client(func(cfg *ehpc.Config) { cfg.MaxAttempts = 3 })

	_, err := c.Operations(testCtx(t), ehpc.OperationQuery{Zone: simZone})
	var rerr *ehpc.ResponseError
	if !errors.As(err, &rerr) {
		t.Fatalf("err = %T %v, want *ehpc.ResponseError", err, err)
	}
	if n := h.sim.Requests(ehpc.PathOperations); n != 3 {
		t.Errorf("502 page: %d attempts, want MaxAttempts=3", n)
	}
	if rerr.HTTPStatus != http.StatusBadGateway || rerr.Reason != "the body is not JSON" {
		t.Errorf("ResponseError = %+v", rerr)
	}
	if !strings.HasPrefix(rerr.Excerpt, "<html> <head><title>502 Bad Gateway</title>") {
		t.Errorf("excerpt = %q, want the page's start with whitespace collapsed", rerr.Excerpt)
	}
	if len(rerr.Excerpt) > 125+3 || !strings.HasSuffix(rerr.Excerpt, "...") {
		t.Errorf("excerpt is %d bytes %q, want at most ~125 plus \"...\"", len(rerr.Excerpt), rerr.Excerpt)
	}
	text := err.Error()
	if !strings.Contains(text, "HTTP 502") || !strings.Contains(text, "502 Bad Gateway") || strings.ContainsAny(text, "\r\n") {
		t.Errorf("error text = %q", text)
	}
}

func TestTruncatedBodies(t *testing.T) {
	t.Run("cut short on a read: retried, then reported", func(t *testing.T) {
		h := newHarness(t, ehpcsim.Options{})
		h.sim.InjectFault(ehpc.PathOperations, ehpcsim.Fault{Count: 10, Truncate: true})
		_, err := h.client().Operations(testCtx(t), ehpc.OperationQuery{Zone: simZone})
		var rerr *ehpc.ResponseError
		if !errors.As(err, &rerr) {
			t.Fatalf("err = %T %v, want *ehpc.ResponseError", err, err)
		}
		if !strings.Contains(rerr.Reason, "cut short") {
			t.Errorf("reason = %q", rerr.Reason)
		}
		if n := h.sim.Requests(ehpc.PathOperations); n != 4 {
			t.Errorf("attempts = %d, want 4", n)
		}
	})
	t.Run("cut short once, then whole", func(t *testing.T) {
		h := newHarness(t, ehpcsim.Options{})
		h.sim.InjectFault(ehpc.PathOperations, ehpcsim.Fault{Truncate: true})
		if _, err := h.client().Operations(testCtx(t), ehpc.OperationQuery{Zone: simZone}); err != nil {
			t.Fatal(err)
		}
		if n := h.sim.Requests(ehpc.PathOperations); n != 2 {
			t.Errorf("attempts = %d, want 2", n)
		}
	})
	t.Run("complete but invalid JSON", func(t *testing.T) {
		h := newHarness(t, ehpcsim.Options{})
		h.sim.InjectFault(ehpc.PathOperations, ehpcsim.Fault{Body: `{"ret_code":0, "job_`})
		_, err := h.client().Operations(testCtx(t), ehpc.OperationQuery{Zone: simZone})
		var rerr *ehpc.ResponseError
		if !errors.As(err, &rerr) {
			t.Fatalf("err = %T %v, want *ehpc.ResponseError", err, err)
		}
		if rerr.HTTPStatus != 200 || rerr.Reason != "the body is not JSON" || rerr.Excerpt != `{"ret_code":0, "job_` {
			t.Errorf("ResponseError = %+v", rerr)
		}
		if n := h.sim.Requests(ehpc.PathOperations); n != 1 {
			t.Errorf("attempts = %d, want 1 (a 200 with a broken body is not transient)", n)
		}
	})
}

func TestOversizedBody(t *testing.T) {
	body := `{"ret_code":0,"total_count":1,"job_set":[{"job_id":"j-abc","note":"` + strings.Repeat("x", 2000) + `"}]}`
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, nil, func(cfg *ehpc.Config) { cfg.MaxBodyBytes = 100 })

	_, err := c.Operations(testCtx(t), ehpc.OperationQuery{Zone: simZone})
	var rerr *ehpc.ResponseError
	if !errors.As(err, &rerr) {
		t.Fatalf("err = %T %v, want *ehpc.ResponseError", err, err)
	}
	if !strings.Contains(err.Error(), "larger than 100 bytes") {
		t.Errorf("error = %v, want it to say larger than 100 bytes", err)
	}
	// The excerpt quotes what came back and nothing else.
	ex := strings.TrimSuffix(rerr.Excerpt, "...")
	if ex == "" || !strings.HasPrefix(body, ex) {
		t.Errorf("excerpt %q is not a prefix of the body", rerr.Excerpt)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("server hit %d times, want 1", n)
	}

	t.Run("secret straddling the excerpt's cut", func(t *testing.T) {
		// Whitespace collapses in the excerpt, so a secret far into the body
		// still lands in the quoted text.
		page := "<p>" + strings.Repeat(" ", 230) + simSecret + strings.Repeat("y", 500) + "</p>"
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(page))
		}))
		t.Cleanup(srv.Close)
		c := newClient(t, srv.URL, nil, func(cfg *ehpc.Config) { cfg.MaxBodyBytes = 300; cfg.MaxAttempts = 1 })
		_, err := c.Operations(testCtx(t), ehpc.OperationQuery{Zone: simZone})
		if err == nil || !strings.Contains(err.Error(), "larger than 300 bytes") {
			t.Fatalf("err = %v", err)
		}
		if strings.Contains(err.Error(), simSecret[:6]) {
			t.Errorf("error quotes part of the secret: %v", err)
		}
	})

	t.Run("restart answered too large is an unknown outcome", func(t *testing.T) {
		h := newHarness(t, ehpcsim.Options{})
		c := h.client(func(cfg *ehpc.Config) { cfg.MaxBodyBytes = 40 })
		_, err := c.RestartNodes(testCtx(t), simZone, simCluster, []string{"cln-cmp00001"})
		var unknown *ehpc.UnknownOutcomeError
		if !errors.As(err, &unknown) || !strings.Contains(err.Error(), "larger than 40 bytes") {
			t.Fatalf("err = %T %v, want UnknownOutcomeError about size", err, err)
		}
		if n := h.sim.Restarts("cln-cmp00001"); n != 1 {
			t.Errorf("restarts = %d, want 1", n)
		}
	})
}

// echoServer answers every request with an error page that quotes the request
// line (signature included) and the secret key, the way a misconfigured proxy
// or debugging backend might.
func echoServer(t *testing.T, sigs *sigRecorder, status int, json, bare bool) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sigs.record(r.URL.RawQuery)
		raw := r.URL.RawQuery
		sig := raw[strings.LastIndex(raw, "signature=")+len("signature="):]
		if bare {
			// The value alone, decoded as a server sees it, without its name.
			plain, _ := url.QueryUnescape(sig)
			plain, _ = url.QueryUnescape(plain)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"ret_code":1200,"message":"AuthenticationFailed, signature [%s] not matched, expected [%s]"}`, plain, plain)
			return
		}
		if json {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"ret_code":1200,"message":"AuthenticationFailed, signature=%s does not match secret %s for query %s"}`, sig, simSecret, raw)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<html><body><p>signature=%s</p><p>key %s</p><pre>%s %s?%s</pre></body></html>", sig, simSecret, r.Method, r.URL.Path, raw)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestEchoedSecretsNeverReachErrorsOrLogs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		json   bool
		bare   bool
	}{
		{"HTML 500 page", http.StatusInternalServerError, false, false},
		{"HTML 400 page", http.StatusBadRequest, false, false},
		{"JSON 1200", http.StatusOK, true, false},
		{"JSON 1200 quoting the bare signature", http.StatusOK, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sigs := &sigRecorder{}
			logs := &logRecorder{}
			srv := echoServer(t, sigs, tc.status, tc.json, tc.bare)
			c := newClient(t, srv.URL, logs)

			_, err := c.Operations(testCtx(t), ehpc.OperationQuery{Zone: simZone, JobIDs: []string{"j-abc"}})
			if err == nil {
				t.Fatal("no error")
			}
			assertNoSecrets(t, "Operations error", err.Error(), sigs.values())
			var apiErr *ehpc.APIError
			if errors.As(err, &apiErr) {
				assertNoSecrets(t, "APIError.Message", apiErr.Message, sigs.values())
			}
			var rerr *ehpc.ResponseError
			if errors.As(err, &rerr) {
				assertNoSecrets(t, "ResponseError.Excerpt", rerr.Excerpt, sigs.values())
				if !strings.Contains(rerr.Excerpt, "[REDACTED]") {
					t.Errorf("excerpt %q: expected the echoed values to be visibly redacted", rerr.Excerpt)
				}
			}

			_, err = c.RestartNodes(testCtx(t), simZone, simCluster, []string{"cln-cmp00001"})
			if err == nil {
				t.Fatal("restart: no error")
			}
			assertNoSecrets(t, "RestartNodes error", err.Error(), sigs.values())
			assertNoSecrets(t, "log", logs.text(), sigs.values())
			if len(sigs.values()) == 0 || len(logs.all()) == 0 {
				t.Fatal("nothing was recorded; the test proves nothing")
			}
		})
	}
}

func TestReadRetriesSucceed(t *testing.T) {
	t.Run("5100 twice, each retry freshly signed", func(t *testing.T) {
		h := newHarness(t, ehpcsim.Options{TimestampValidity: time.Minute})
		h.sim.InjectFault(ehpc.PathOperations, ehpcsim.Fault{Count: 2, RetCode: codeServerBusy})
		// A clock that moves one second per signature makes every attempt's
		// timestamp distinct, so a re-sent stale URL would be visible.
		c := h.client(func(cfg *ehpc.Config) { cfg.Clock = &tickingClock{start: time.Now()} })
		if _, err := c.Operations(testCtx(t), ehpc.OperationQuery{Zone: simZone}); err != nil {
			t.Fatal(err)
		}
		log := h.sim.RequestLog()
		if len(log) != 3 {
			t.Fatalf("simulator saw %d requests, want 3", len(log))
		}
		stamps := map[string]bool{}
		for i, r := range log {
			stamps[r.Query.Get("timestamp")] = true
			want := codeServerBusy
			if i == 2 {
				want = 0
			}
			if r.RetCode != want {
				t.Errorf("attempt %d got ret_code %d, want %d", i+1, r.RetCode, want)
			}
		}
		if len(stamps) != 3 {
			t.Errorf("attempts reused a timestamp: %v", stamps)
		}
		if sigs := h.sigs.values(); len(sigs) < 3 || sigs[0] == sigs[3] || sigs[3] == sigs[6] {
			t.Errorf("attempts reused a signature")
		}
		// The last attempt passed the simulator's signature and clock checks.
		if log[2].StringToSign == "" || log[2].HTTPStatus != 200 {
			t.Errorf("last attempt = %+v", log[2])
		}
	})

	for _, tc := range []struct {
		name   string
		status int
	}{{"503 JSON", http.StatusServiceUnavailable}, {"429 text", http.StatusTooManyRequests}} {
		t.Run(tc.name+" with Retry-After 1", func(t *testing.T) {
			h := newHarness(t, ehpcsim.Options{})
			h.sim.InjectFault(ehpc.PathListNodes, ehpcsim.Fault{HTTPStatus: tc.status, RetryAfter: "1"})
			c := h.client()
			begin := time.Now()
			nodes, err := c.ListNodes(testCtx(t), simCluster, ehpc.NodeFilter{Zone: simZone})
			elapsed := time.Since(begin)
			if err != nil {
				t.Fatal(err)
			}
			if len(nodes) != 6 {
				t.Errorf("got %d nodes, want 6", len(nodes))
			}
			if elapsed < 950*time.Millisecond {
				t.Errorf("client retried after %v, before the server's Retry-After of 1s", elapsed)
			}
			if n := h.sim.Requests(ehpc.PathListNodes); n != 2 {
				t.Errorf("requests = %d, want 2", n)
			}
		})
	}

	t.Run("connection dropped, then success", func(t *testing.T) {
		h := newHarness(t, ehpcsim.Options{})
		h.sim.InjectFault(ehpc.PathOperations, ehpcsim.Fault{Drop: true})
		if _, err := h.client().Operations(testCtx(t), ehpc.OperationQuery{Zone: simZone}); err != nil {
			t.Fatal(err)
		}
		log := h.sim.RequestLog()
		if len(log) != 2 || log[0].HTTPStatus != 0 || log[1].RetCode != 0 || log[1].HTTPStatus != 200 {
			t.Errorf("request log = %+v, want a dropped attempt then a successful one", log)
		}
	})
}

// wantUnknown checks err is an UnknownOutcomeError for the given node and returns it.
func wantUnknown(t *testing.T, err error, node string) {
	t.Helper()
	var unknown *ehpc.UnknownOutcomeError
	if !errors.As(err, &unknown) {
		t.Fatalf("err = %T %v, want *ehpc.UnknownOutcomeError", err, err)
	}
	if unknown.ClusterID != simCluster || len(unknown.NodeIDs) != 1 || unknown.NodeIDs[0] != node || unknown.Request.SentAt.IsZero() || unknown.Request.Until.IsZero() {
		t.Errorf("UnknownOutcomeError = %+v", unknown)
	}
	if !strings.Contains(err.Error(), "may or may not have been processed") || !strings.Contains(err.Error(), node) {
		t.Errorf("error text = %v", err)
	}
	assertNoSecrets(t, "error", err.Error(), nil)
}

func TestRestartIsNeverResentAfterAmbiguousFailure(t *testing.T) {
	const node = "cln-cmp00003"
	for _, tc := range []struct {
		name        string
		fault       ehpcsim.Fault
		cfg         func(*ehpc.Config)
		wantRestart int
		check       func(t *testing.T, err error)
	}{
		{
			name: "connection dropped after the restart", fault: ehpcsim.Fault{Drop: true, AfterEffect: true}, wantRestart: 1,
			check: func(t *testing.T, err error) {
				var terr *ehpc.TransportError
				if !errors.As(err, &terr) || !terr.Sent {
					t.Errorf("cause = %v, want TransportError with Sent", err)
				}
			},
		},
		{
			name: "502 page after the restart", fault: ehpcsim.Fault{HTTPStatus: http.StatusBadGateway, AfterEffect: true}, wantRestart: 1,
			check: func(t *testing.T, err error) {
				var rerr *ehpc.ResponseError
				if !errors.As(err, &rerr) || rerr.HTTPStatus != http.StatusBadGateway {
					t.Errorf("cause = %v, want ResponseError HTTP 502", err)
				}
			},
		},
		{
			name: "body cut short after the restart", fault: ehpcsim.Fault{Truncate: true, AfterEffect: true}, wantRestart: 1,
			check: func(t *testing.T, err error) {
				var rerr *ehpc.ResponseError
				if !errors.As(err, &rerr) || !strings.Contains(rerr.Reason, "cut short") {
					t.Errorf("cause = %v, want ResponseError cut short", err)
				}
			},
		},
		{
			name: "ret_code 5000", fault: ehpcsim.Fault{RetCode: codeInternalError}, wantRestart: 0,
			check: func(t *testing.T, err error) {
				if ehpc.RetCode(err) != codeInternalError || !strings.Contains(err.Error(), ehpc.Hint(codeInternalError)) {
					t.Errorf("cause = %v, want APIError 5000 with hint", err)
				}
			},
		},
		{
			name: "answer slower than RequestTimeout", fault: ehpcsim.Fault{Delay: 3 * time.Second, AfterEffect: true}, wantRestart: 1,
			cfg: func(cfg *ehpc.Config) { cfg.RequestTimeout = 200 * time.Millisecond },
			check: func(t *testing.T, err error) {
				var terr *ehpc.TransportError
				if !errors.As(err, &terr) || !terr.Sent {
					t.Errorf("cause = %v, want TransportError with Sent", err)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, ehpcsim.Options{})
			h.sim.InjectFault(ehpc.PathRestartNodes, tc.fault)
			var mods []func(*ehpc.Config)
			if tc.cfg != nil {
				mods = append(mods, tc.cfg)
			}
			_, err := h.client(mods...).RestartNodes(testCtx(t), simZone, simCluster, []string{node})
			wantUnknown(t, err, node)
			tc.check(t, err)
			if n := h.sim.Requests(ehpc.PathRestartNodes); n != 1 {
				t.Errorf("restart POSTs = %d, want exactly 1", n)
			}
			if n := h.sim.Requests(ehpc.PathRestartNodesAlias); n != 0 {
				t.Errorf("alias POSTs = %d, want 0", n)
			}
			if n := h.sim.Restarts(node); n != tc.wantRestart {
				t.Errorf("node restarted %d times, want %d", n, tc.wantRestart)
			}
		})
	}
}

func TestRestartRetriedOnlyWhenProvablyNotProcessed(t *testing.T) {
	t.Run("5100 then success", func(t *testing.T) {
		h := newHarness(t, ehpcsim.Options{})
		h.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{RetCode: codeServerBusy})
		res, err := h.client().RestartNodes(testCtx(t), simZone, simCluster, []string{"cln-cmp00001"})
		if err != nil {
			t.Fatal(err)
		}
		if n := h.sim.Requests(ehpc.PathRestartNodes); n != 2 {
			t.Errorf("restart POSTs = %d, want 2", n)
		}
		if n := h.sim.Restarts("cln-cmp00001"); n != 1 {
			t.Errorf("restarts = %d, want 1", n)
		}
		if jobs := h.sim.Jobs(); len(jobs) != 1 || jobs[0].ID != res.JobID {
			t.Errorf("jobs = %+v, result %+v", jobs, res)
		}
	})

	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		logs := &logRecorder{}
		c := newClient(t, "http://"+addr, logs, func(cfg *ehpc.Config) { cfg.MaxAttempts = 3 })
		_, err = c.RestartNodes(testCtx(t), simZone, simCluster, []string{"cln-cmp00001"})
		var terr *ehpc.TransportError
		if !errors.As(err, &terr) {
			t.Fatalf("err = %T %v, want *ehpc.TransportError", err, err)
		}
		if terr.Sent {
			t.Errorf("Sent = true for a refused connection")
		}
		var unknown *ehpc.UnknownOutcomeError
		if errors.As(err, &unknown) {
			t.Errorf("refused connection reported as unknown outcome: %v", err)
		}
		entries := logs.all()
		if len(entries) != 3 {
			t.Fatalf("attempts logged = %d, want MaxAttempts=3:\n%s", len(entries), logs.text())
		}
		for i, e := range entries {
			if e["attempt"] != i+1 || e["path"] != ehpc.PathRestartNodes || e["method"] != "POST" {
				t.Errorf("log line %d = %v", i, e)
			}
		}
		assertNoSecrets(t, "error", err.Error(), nil)
	})
}

func TestRestartPathFallback(t *testing.T) {
	const node = "cln-cmp00002"
	for _, tc := range []struct {
		name  string
		fault ehpcsim.Fault
	}{
		{"404 HTML", ehpcsim.Fault{HTTPStatus: http.StatusNotFound, Body: "<html><body><h1>404 Not Found</h1></body></html>"}},
		{"404 JSON", ehpcsim.Fault{HTTPStatus: http.StatusNotFound, Body: `{"ret_code":1101,"message":"InvalidAction, no such action"}`}},
		{"404 text", ehpcsim.Fault{HTTPStatus: http.StatusNotFound}},
		{"ret_code 1101", ehpcsim.Fault{RetCode: ehpc.CodeNoSuchAction}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, ehpcsim.Options{})
			h.sim.InjectFault(ehpc.PathRestartNodes, tc.fault)
			res, err := h.client().RestartNodes(testCtx(t), simZone, simCluster, []string{node})
			if err != nil {
				t.Fatal(err)
			}
			if res.Path != ehpc.PathRestartNodesAlias {
				t.Errorf("result path = %q, want the alias", res.Path)
			}
			if a, b := h.sim.Requests(ehpc.PathRestartNodes), h.sim.Requests(ehpc.PathRestartNodesAlias); a != 1 || b != 1 {
				t.Errorf("POSTs: restartNodes %d, resatrtNodes %d; want 1 and 1", a, b)
			}
			if n := h.sim.Restarts(node); n != 1 {
				t.Errorf("restarts = %d, want 1", n)
			}
			jobs := h.sim.Jobs()
			if len(jobs) != 1 || jobs[0].ID != res.JobID || jobs[0].Path != ehpc.PathRestartNodesAlias {
				t.Errorf("jobs = %+v", jobs)
			}
		})
	}

	t.Run("both paths missing", func(t *testing.T) {
		h := newHarness(t, ehpcsim.Options{})
		h.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{HTTPStatus: http.StatusNotFound})
		h.sim.InjectFault(ehpc.PathRestartNodesAlias, ehpcsim.Fault{RetCode: ehpc.CodeNoSuchAction})
		_, err := h.client().RestartNodes(testCtx(t), simZone, simCluster, []string{node})
		if err == nil {
			t.Fatal("no error")
		}
		for _, p := range []string{ehpc.PathRestartNodes, ehpc.PathRestartNodesAlias} {
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error does not mention %s: %v", p, err)
			}
		}
		if ehpc.RetCode(err) != ehpc.CodeNoSuchAction {
			t.Errorf("RetCode(err) = %d, want 1101", ehpc.RetCode(err))
		}
		if n := h.sim.Restarts(node); n != 0 {
			t.Errorf("restarts = %d", n)
		}
		if a, b := h.sim.Requests(ehpc.PathRestartNodes), h.sim.Requests(ehpc.PathRestartNodesAlias); a != 1 || b != 1 {
			t.Errorf("POSTs: restartNodes %d, resatrtNodes %d; want 1 and 1", a, b)
		}
	})

	t.Run("endpoint that is not the API at all", func(t *testing.T) {
		var hits atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			http.NotFound(w, r)
		}))
		t.Cleanup(srv.Close)
		_, err := newClient(t, srv.URL, nil).RestartNodes(testCtx(t), simZone, simCluster, []string{node})
		if err == nil || !strings.Contains(err.Error(), ehpc.PathRestartNodes) || !strings.Contains(err.Error(), ehpc.PathRestartNodesAlias) {
			t.Errorf("err = %v, want both paths named", err)
		}
		if n := hits.Load(); n != 2 {
			t.Errorf("server hit %d times, want 2", n)
		}
	})

	t.Run("1200 does not fall back", func(t *testing.T) {
		h := newHarness(t, ehpcsim.Options{})
		c := h.client(func(cfg *ehpc.Config) { cfg.SecretKey = "wrong-secret-value" })
		_, err := c.RestartNodes(testCtx(t), simZone, simCluster, []string{node})
		wantAPIError(t, err, ehpc.CodeAuthFailed, "signature not matched")
		if n := h.sim.Requests(ehpc.PathRestartNodesAlias); n != 0 {
			t.Errorf("alias POSTs = %d after a 1200, want 0", n)
		}
	})
}

func TestLogsNeverHoldSecrets(t *testing.T) {
	h := newHarness(t, ehpcsim.Options{JobDuration: time.Hour})
	c := h.client()
	ctx := testCtx(t)
	var errs []error
	record := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	h.sim.InjectFault(ehpc.PathOperations, ehpcsim.Fault{HTTPStatus: http.StatusBadGateway})
	h.sim.InjectFault(ehpc.PathOperations, ehpcsim.Fault{Drop: true})
	h.sim.InjectFault(ehpc.PathOperations, ehpcsim.Fault{RetCode: codeServerBusy})
	_, err := c.Operations(ctx, ehpc.OperationQuery{Zone: simZone})
	record(err)
	h.sim.InjectFault(ehpc.PathRestartNodes, ehpcsim.Fault{Truncate: true, AfterEffect: true})
	_, err = c.RestartNodes(ctx, simZone, simCluster, []string{"cln-cmp00001"})
	record(err)
	_, err = c.RestartNodes(ctx, simZone, simCluster, []string{"cln-cmp00001"}) // 1400
	record(err)
	_, err = c.RestartNodes(ctx, simZone, simCluster, []string{"cln-nosuch01"}) // 2100
	record(err)
	_, err = h.client(func(cfg *ehpc.Config) { cfg.SecretKey = "wrong-secret-value" }).ListNodes(ctx, simCluster, ehpc.NodeFilter{Zone: simZone})
	record(err)
	_, err = h.client(func(cfg *ehpc.Config) { cfg.Clock = clock.Offset(clock.Real(), -time.Hour) }).ListNodes(ctx, simCluster, ehpc.NodeFilter{Zone: simZone})
	record(err)

	if len(errs) != 5 {
		t.Errorf("got %d errors, want 5: %v", len(errs), errs)
	}
	entries := h.logs.all()
	if len(entries) < 9 {
		t.Errorf("only %d log lines; expected one per attempt", len(entries))
	}
	sigs := h.sigs.values()
	if len(sigs) == 0 {
		t.Fatal("no signatures recorded")
	}
	assertNoSecrets(t, "log", h.logs.text(), sigs)
	for _, err := range errs {
		assertNoSecrets(t, "error", err.Error(), sigs)
	}
	for _, e := range entries {
		for k := range e {
			if strings.Contains(strings.ToLower(k), "query") || strings.Contains(strings.ToLower(k), "url") {
				t.Errorf("log line has field %q: %v", k, e)
			}
		}
	}
}

// tickingClock moves one second each time it is read, so every attempt's
// timestamp differs; its waits are real.
type tickingClock struct {
	start time.Time
	tick  atomic.Int64
}

func (c *tickingClock) Now() time.Time {
	return c.start.Add(time.Duration(c.tick.Add(1)) * time.Second)
}

func (c *tickingClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
