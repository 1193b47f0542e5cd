package ehpcsim

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/clock/clocktest"
)

// The helpers here sign requests independently of signature.go (different
// escaping code, built from API.md), so a bug shared by both is unlikely.

var t0 = time.Date(2025, 1, 2, 3, 4, 30, 0, time.UTC)

// testEscape is RFC 3986 escaping derived from url.QueryEscape, which already
// keeps exactly the unreserved set and uses upper-case hex, except that it
// writes a space as '+'.
func testEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

type testClient struct {
	t      *testing.T
	base   string
	key    string
	secret string
	zone   string
	clock  func() time.Time
	hc     *http.Client
}

type env struct {
	sim   *Simulator
	srv   *httptest.Server
	clock *clocktest.Fake
	c     *testClient
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	clock := clocktest.NewFake(t0)
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	sim := New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c := &testClient{
		t: t, base: srv.URL, key: DemoAccessKeyID, secret: DemoSecretKey, zone: DemoZone,
		clock: opts.Now,
		// No keep-alive: a dropped connection must not be retried silently by
		// net/http on a reused connection, or the counters would lie.
		hc: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second},
	}
	return &env{sim: sim, srv: srv, clock: clock, c: c}
}

// canonical sorts pairs and escapes them; it is the test's own rendering of
// API.md steps 1-3.
func canonical(params url.Values) string {
	type kv struct{ k, v string }
	var kvs []kv
	for k, vs := range params {
		for _, v := range vs {
			kvs = append(kvs, kv{k, v})
		}
	}
	slices.SortFunc(kvs, func(a, b kv) int { return cmp.Or(strings.Compare(a.k, b.k), strings.Compare(a.v, b.v)) })
	parts := make([]string, len(kvs))
	for i, p := range kvs {
		parts[i] = testEscape(p.k) + "=" + testEscape(p.v)
	}
	return strings.Join(parts, "&")
}

func testSign(secret, method, path, canon string, body []byte) string {
	sts := fmt.Sprintf("%s\n%s\n%s\n%x", method, path, canon, md5.Sum(body))
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func (c *testClient) common() url.Values {
	return url.Values{
		"access_key_id":     {c.key},
		"zone":              {c.zone},
		"timestamp":         {c.clock().UTC().Format("2006-01-02T15:04:05Z")},
		"version":           {"1"},
		"signature_method":  {"HmacSHA256"},
		"signature_version": {"1"},
	}
}

// rawQuery returns the query to send: the common parameters plus params
// (params override common ones; an empty slice deletes one), signed, with the
// signature double-encoded and last.
func (c *testClient) rawQuery(method, path string, params url.Values, body []byte) string {
	q := c.common()
	for k, v := range params {
		if len(v) == 0 {
			delete(q, k)
			continue
		}
		q[k] = v
	}
	canon := canonical(q)
	sig := testSign(c.secret, method, path, canon, body)
	return canon + "&signature=" + url.QueryEscape(url.QueryEscape(sig))
}

func (c *testClient) send(method, path, rawQuery string, body []byte) (*http.Response, []byte, error) {
	req, err := http.NewRequest(method, c.base+path+"?"+rawQuery, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// callRaw sends a request with the given raw query and decodes a JSON answer.
func (c *testClient) callRaw(method, path, rawQuery string, body []byte) (int, map[string]any) {
	c.t.Helper()
	resp, b, err := c.send(method, path, rawQuery, body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		c.t.Fatalf("%s %s: Content-Type %q, body %s", method, path, ct, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("%s %s: bad JSON %q: %v", method, path, b, err)
	}
	return resp.StatusCode, m
}

func (c *testClient) call(method, path string, params url.Values, body []byte) map[string]any {
	c.t.Helper()
	status, m := c.callRaw(method, path, c.rawQuery(method, path, params, body), body)
	if status != http.StatusOK {
		c.t.Fatalf("%s %s: HTTP %d: %v", method, path, status, m)
	}
	return m
}

func (c *testClient) get(path string, params url.Values) map[string]any {
	c.t.Helper()
	return c.call(http.MethodGet, path, params, nil)
}

func restartBody(cluster, zone string, nodes ...string) []byte {
	b, _ := json.Marshal(map[string]any{"cluster_id": cluster, "node_ids": nodes, "zone": zone})
	return b
}

func (c *testClient) restart(nodes ...string) map[string]any {
	c.t.Helper()
	return c.call(http.MethodPost, "/api/cluster/restartNodes", nil, restartBody(DemoClusterID, DemoZone, nodes...))
}

func retCode(t *testing.T, m map[string]any) int {
	t.Helper()
	v, ok := m["ret_code"].(float64)
	if !ok {
		t.Fatalf("no numeric ret_code in %v", m)
	}
	return int(v)
}

func wantRet(t *testing.T, m map[string]any, want int) {
	t.Helper()
	if got := retCode(t, m); got != want {
		t.Fatalf("ret_code = %d, want %d (%v)", got, want, m)
	}
}

func set(m map[string]any, key string) []map[string]any {
	raw, _ := m[key].([]any)
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		out[i] = r.(map[string]any)
	}
	return out
}

func totalCount(m map[string]any) int {
	v, _ := m["total_count"].(float64)
	return int(v)
}

// bigClusterID is the id of every bigCluster: a test uses one at a time.
const bigClusterID = "ehpc-big00001"

// bigCluster has n compute nodes with ids cln-big00000.. in scrambled
// insertion order, so ordering by node_id is really exercised.
func bigCluster(n int) Cluster {
	c := Cluster{ID: bigClusterID, Zone: DemoZone}
	for i := 0; i < n; i++ {
		k := (i*7 + 3) % n
		c.Nodes = append(c.Nodes, Node{
			ID: fmt.Sprintf("cln-big%05d", k), Name: fmt.Sprintf("compute-%d", k), Role: "compute",
			Status: "active", PrivateIP: fmt.Sprintf("10.17.%d.%d", k/250, k%250+1), InstanceID: fmt.Sprintf("i-big%05d", k),
		})
	}
	return c
}
