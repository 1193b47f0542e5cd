package ehpcsim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Hard-coded vectors computed with openssl, independently of any Go code
// (pass the canonical query as a printf argument, never inside the format:
// printf would eat its %3A):
//
//	c='access_key_id=QYSIMULATORKEY0001&jobs=j-abcdefghij&signature_method=HmacSHA256&signature_version=1&timestamp=2025-01-02T03%3A04%3A08Z&version=1&zone=jn1a'
//	printf 'GET\n/api/operation\n%s\nd41d8cd98f00b204e9800998ecf8427e' "$c" \
//	  | openssl dgst -sha256 -hmac 'sim-secret-do-not-use-in-production' -binary | base64
//	=> zX+D+te3DJ6KSAiTsNIYvJCNUMJZSil6BF59/tRGKlI=
//
//	printf '%s' '{"cluster_id":"ehpc-8jqdq0mz","node_ids":["cln-cmp00001","cln-cmp00002"],"zone":"jn1a"}' | md5sum
//	=> 57a5773b68d7961d676900b521162ff4
//	c='access_key_id=QYSIMULATORKEY0001&signature_method=HmacSHA256&signature_version=1&timestamp=2025-01-02T03%3A04%3A08Z&version=1&zone=jn1a'
//	printf 'POST\n/api/cluster/restartNodes\n%s\n57a5773b68d7961d676900b521162ff4' "$c" \
//	  | openssl dgst -sha256 -hmac 'sim-secret-do-not-use-in-production' -binary | base64
//	=> W9wvM5fR3G5QDLZhCPjOytcA3os7it5gs7ELV/u5mCE=
//
//	c='access_key_id=QYSIMULATORKEY0001&cluster_id=ehpc-8jqdq0mz&search_word=compute%20~1&signature_method=HmacSHA256&signature_version=1&timestamp=2025-01-02T03%3A04%3A08Z&version=1&zone=jn1a'
//	printf 'GET\n/api/cluster/listNodes\n%s\nd41d8cd98f00b204e9800998ecf8427e' "$c" \
//	  | openssl dgst -sha256 -hmac 'sim-secret-do-not-use-in-production' -binary | base64
//	=> nPna/imNXqpAVvL67glP2SMeJapzHuQ2SqHu4jS3ReE=
var vectors = []struct {
	name, method, path, canon, body, sig string
}{
	{
		name: "operation", method: "GET", path: "/api/operation",
		canon: "access_key_id=QYSIMULATORKEY0001&jobs=j-abcdefghij&signature_method=HmacSHA256&signature_version=1&timestamp=2025-01-02T03%3A04%3A08Z&version=1&zone=jn1a",
		sig:   "zX+D+te3DJ6KSAiTsNIYvJCNUMJZSil6BF59/tRGKlI=",
	},
	{
		name: "restart", method: "POST", path: "/api/cluster/restartNodes",
		canon: "access_key_id=QYSIMULATORKEY0001&signature_method=HmacSHA256&signature_version=1&timestamp=2025-01-02T03%3A04%3A08Z&version=1&zone=jn1a",
		body:  `{"cluster_id":"ehpc-8jqdq0mz","node_ids":["cln-cmp00001","cln-cmp00002"],"zone":"jn1a"}`,
		sig:   "W9wvM5fR3G5QDLZhCPjOytcA3os7it5gs7ELV/u5mCE=",
	},
	{
		name: "listNodes space and tilde", method: "GET", path: "/api/cluster/listNodes",
		canon: "access_key_id=QYSIMULATORKEY0001&cluster_id=ehpc-8jqdq0mz&search_word=compute%20~1&signature_method=HmacSHA256&signature_version=1&timestamp=2025-01-02T03%3A04%3A08Z&version=1&zone=jn1a",
		sig:   "nPna/imNXqpAVvL67glP2SMeJapzHuQ2SqHu4jS3ReE=",
	},
}

func doubleEncode(sig string) string {
	r := strings.NewReplacer("+", "%252B", "/", "%252F", "=", "%253D")
	return r.Replace(sig)
}

func TestOpenSSLVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			pairs, err := parseRawQuery(v.canon)
			if err != nil {
				t.Fatal(err)
			}
			if got := canonicalQuery(pairs); got != v.canon {
				t.Fatalf("canonical query\n got %s\nwant %s", got, v.canon)
			}
			sts := stringToSign(v.method, v.path, v.canon, []byte(v.body))
			if got := computeSignature(DemoSecretKey, sts); got != v.sig {
				t.Fatalf("signature %s, want %s", got, v.sig)
			}
			if got := testSign(DemoSecretKey, v.method, v.path, v.canon, []byte(v.body)); got != v.sig {
				t.Fatalf("test signer %s, want %s", got, v.sig)
			}

			// Over the wire, 22 s after the timestamp.
			e := newEnv(t, Options{})
			status, m := e.c.callRaw(v.method, v.path, v.canon+"&signature="+doubleEncode(v.sig), []byte(v.body))
			if status != http.StatusOK {
				t.Fatalf("HTTP %d", status)
			}
			wantRet(t, m, 0)
			log := e.sim.RequestLog()
			if want := v.method + "\n" + v.path + "\n" + v.canon + "\n"; !strings.HasPrefix(log[0].StringToSign, want) {
				t.Fatalf("string to sign %q", log[0].StringToSign)
			}
			if _, ok := log[0].Query["signature"]; ok {
				t.Fatal("signature kept in RequestLog")
			}

			// Once-encoded signature (the vectors all contain '=') is refused.
			once := url.QueryEscape(v.sig)
			_, m = e.c.callRaw(v.method, v.path, v.canon+"&signature="+once, []byte(v.body))
			wantRet(t, m, 1200)
			// So is the bare base64.
			_, m = e.c.callRaw(v.method, v.path, v.canon+"&signature="+v.sig, []byte(v.body))
			wantRet(t, m, 1200)
		})
	}
}

// A space may arrive as '+' (form encoding) or %20, and params in any order:
// the canonical query is the same.
func TestSignatureEncodingVariants(t *testing.T) {
	e := newEnv(t, Options{})
	v := vectors[2]
	sig := "&signature=" + doubleEncode(v.sig)
	for _, q := range []string{
		strings.Replace(v.canon, "compute%20~1", "compute+~1", 1),
		strings.Replace(v.canon, "compute%20~1", "compute%20%7E1", 1),
		"zone=jn1a&version=1&timestamp=2025-01-02T03:04:08Z&signature_version=1&signature_method=HmacSHA256&search_word=compute%20~1&cluster_id=ehpc-8jqdq0mz&access_key_id=QYSIMULATORKEY0001",
	} {
		_, m := e.c.callRaw("GET", v.path, q+sig, nil)
		wantRet(t, m, 0)
	}
	// Lower-casing the whole value changes the base64 letters: must fail.
	_, m := e.c.callRaw("GET", v.path, v.canon+strings.ToLower(sig), nil)
	wantRet(t, m, 1200)
	// Lower-case hex in the percent-encodings alone is still the same bytes.
	low := strings.NewReplacer("%252F", "%252f", "%253D", "%253d").Replace(sig)
	_, m = e.c.callRaw("GET", v.path, v.canon+low, nil)
	wantRet(t, m, 0)
}

func TestTampering(t *testing.T) {
	e := newEnv(t, Options{})
	body := restartBody(DemoClusterID, DemoZone, "cln-cmp00001")
	q := e.c.rawQuery("POST", pathRestart, nil, body)

	cases := map[string]struct {
		path, query string
		body        []byte
	}{
		"body changed":  {pathRestart, q, restartBody(DemoClusterID, DemoZone, "cln-cmp00002")},
		"query changed": {pathRestart, strings.Replace(q, "zone=jn1a", "zone=jn1a&verbose=1", 1), body},
		"path changed":  {pathRestartTypo, q, body},
		"signature changed": {pathRestart, func() string {
			c := "A"
			if q[len(q)-6] == 'A' {
				c = "B"
			}
			return q[:len(q)-6] + c + q[len(q)-5:]
		}(), body},
		"signature missing": {pathRestart, q[:strings.Index(q, "&signature=")], body},
		"signature not last": {pathRestart, func() string {
			i := strings.Index(q, "&signature=")
			return q[i+1:] + "&" + q[:i]
		}(), body},
		"signature twice": {pathRestart, q + "&" + q[strings.Index(q, "&signature=")+1:], body},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, m := e.c.callRaw("POST", c.path, c.query, c.body)
			wantRet(t, m, 1200)
		})
	}
	t.Run("wrong secret", func(t *testing.T) {
		c := *e.c
		c.secret = "not-the-secret"
		wantRet(t, c.restart("cln-cmp00001"), 1200)
	})
	t.Run("unknown key", func(t *testing.T) {
		c := *e.c
		c.key = "QYUNKNOWN"
		m := c.restart("cln-cmp00001")
		wantRet(t, m, 1200)
		if !strings.HasPrefix(m["message"].(string), "AuthenticationFailed") {
			t.Fatal(m)
		}
	})
	if n := e.sim.Restarts("cln-cmp00001") + e.sim.Restarts("cln-cmp00002"); n != 0 {
		t.Fatalf("tampered requests restarted %d nodes", n)
	}
	if got := e.sim.Requests(pathRestart); got != 8 {
		t.Fatalf("Requests(restart) = %d, want 8", got)
	}
	// The untampered request still works.
	_, m := e.c.callRaw("POST", pathRestart, q, body)
	wantRet(t, m, 0)
}

func TestTimestampWindow(t *testing.T) {
	e := newEnv(t, Options{})
	c := *e.c
	for _, tc := range []struct {
		off  time.Duration
		want int
		msg  string
	}{
		{-61 * time.Second, 1300, "older than 60 seconds"},
		{-60 * time.Second, 0, ""},
		{60 * time.Second, 0, ""},
		{61 * time.Second, 1300, "in the future"},
		{-24 * time.Hour, 1300, "older than 60 seconds"},
	} {
		c.clock = func() time.Time { return e.clock.Now().Add(tc.off) }
		m := c.get(pathOperation, nil)
		wantRet(t, m, tc.want)
		if tc.msg != "" && !strings.Contains(m["message"].(string), tc.msg) || tc.want != 0 && !strings.HasPrefix(m["message"].(string), "RequestExpired, timestamp [") {
			t.Fatalf("offset %s: %v", tc.off, m)
		}
	}
}

// A shorter lease is checked like the documented one, both ways, and says
// how long it is; the default stays 60 s (TestTimestampWindow).
func TestTimestampValidity(t *testing.T) {
	e := newEnv(t, Options{TimestampValidity: 2 * time.Second})
	c := *e.c
	for _, tc := range []struct {
		off  time.Duration
		want int
		msg  string
	}{
		{-3 * time.Second, 1300, "older than 2 seconds"},
		{-2 * time.Second, 0, ""},
		{2 * time.Second, 0, ""},
		{3 * time.Second, 1300, "more than 2 seconds in the future"},
	} {
		c.clock = func() time.Time { return e.clock.Now().Add(tc.off) }
		m := c.get(pathOperation, nil)
		wantRet(t, m, tc.want)
		if tc.msg != "" && !strings.Contains(m["message"].(string), tc.msg) {
			t.Fatalf("offset %s: %v", tc.off, m)
		}
	}

	defer func() {
		if recover() == nil {
			t.Fatal("a negative validity did not panic")
		}
	}()
	New(Options{TimestampValidity: -time.Second})
}

func TestCommonParameters(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct {
		name   string
		params url.Values
		want   int
	}{
		{"no access key", url.Values{"access_key_id": {}}, 1200},
		{"no timestamp", url.Values{"timestamp": {}}, 1100},
		{"time_stamp spelling", url.Values{"timestamp": {}, "time_stamp": {"2025-01-02T03:04:30Z"}}, 1100},
		{"bad timestamp", url.Values{"timestamp": {"2025-01-02 03:04:30"}}, 1100},
		{"timestamp with offset", url.Values{"timestamp": {"2025-01-02T03:04:30+00:00"}}, 1100},
		{"no version", url.Values{"version": {}}, 1100},
		{"version 2", url.Values{"version": {"2"}}, 1100},
		{"no signature_method", url.Values{"signature_method": {}}, 1100},
		{"HmacSHA1", url.Values{"signature_method": {"HmacSHA1"}}, 1100},
		{"no signature_version", url.Values{"signature_version": {}}, 1100},
		{"signature_version 2", url.Values{"signature_version": {"2"}}, 1100},
		{"no zone", url.Values{"zone": {}}, 1100},
		{"unknown zone", url.Values{"zone": {"pek3"}}, 1100},
		{"zone twice", url.Values{"zone": {"jn1a", "jn1a"}}, 1100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := e.c.get(pathOperation, tc.params)
			wantRet(t, m, tc.want)
			if m["action"] != "HpcOperationListOperationResponse" || m["message"] == "" {
				t.Fatalf("error response %v", m)
			}
		})
	}
}

func TestRFC3986Escape(t *testing.T) {
	for in, want := range map[string]string{
		"a-b_c.d~e": "a-b_c.d~e",
		"a b":       "a%20b",
		"a+b":       "a%2Bb",
		"a/b=c&d":   "a%2Fb%3Dc%26d",
		":":         "%3A",
		"é":         "%C3%A9",
		"*":         "%2A",
	} {
		if got := rfc3986Escape(in); got != want {
			t.Errorf("rfc3986Escape(%q) = %q, want %q", in, got, want)
		}
		if got := testEscape(in); got != want {
			t.Errorf("testEscape(%q) = %q, want %q", in, got, want)
		}
	}
}
