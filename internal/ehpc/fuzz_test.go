package ehpc

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Responses come from a network the provider does not control: whatever the bytes,
// decoding must return a value or an error, never panic, and never echo the
// secret. The seeds in testdata/fuzz hold real shapes, loose ones and broken ones.
func FuzzDecodeResponse(f *testing.F) {
	f.Add(200, []byte(`{"action":"HpcClusterRestartClusterNodesResponse","job_id":"j-he18e4khem2","ret_code":0}`))
	f.Add(200, []byte(`{"action":"HpcOperationListOperationResponse","ret_code":0,"total_count":1,"job_set":[{"job_id":"j-1","status":"pending","resource_ids":"ehpc-x cln-a","create_time":"2026-11-27T04:30:00Z","error_codes":[1,"x"]}]}`))
	f.Add(200, []byte(`{"action":"HpcClusterGetClusterNodesResponse","ret_code":"0","total_count":"2.0","hpc_app_nodes_set":[{"node_id":"cln-a","name":7,"cpu":4}]}`))
	f.Add(502, []byte("<html><body>502 Bad Gateway</body></html>"))
	f.Add(200, []byte(`{"ret_code":1200,"message":"signature=abc%2B is wrong for fuzz-secret"}`))
	f.Add(200, []byte(`{"ret_code":0, "job_`))
	f.Add(404, []byte{0xff, 0xfe, 0x00})

	c, err := New(Config{Endpoint: "https://hpc-api.example.test", AccessKeyID: "k", SecretKey: "fuzz-secret"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 599 {
			status = http.StatusOK
		}
		outs := map[string]any{
			PathRestartNodes: &restartResponse{},
			PathOperations:   &operationResponse{},
			PathListNodes:    &listNodesResponse{},
		}
		for path, out := range outs {
			err, _ := c.decode(c.scrubber, request{method: http.MethodGet, path: path, safe: true}, status, body, out)
			if err != nil && strings.Contains(err.Error(), "fuzz-secret") {
				t.Fatalf("error text carries the secret: %v", err)
			}
		}
	})
}

var canonicalShape = regexp.MustCompile(`^([A-Za-z0-9\-_.~%]*=[A-Za-z0-9\-_.~%]*(&|$))*$`)

// The canonical query is both what is signed and what is sent, so it must parse
// back to exactly the parameters it was made from.
func FuzzCanonicalQuery(f *testing.F) {
	f.Add("search_word", "compute node/1+é", "zone", "jn1a")
	f.Add("timestamp", "2026-11-27T04:30:00Z", "a b", "&=?#")
	f.Add("", "", "signature", "dropped")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		params := url.Values{}
		params.Add(k1, v1)
		params.Add(k2, v2)
		q := canonicalQuery(params)
		if !canonicalShape.MatchString(q) && q != "" {
			t.Fatalf("canonical query %q has characters outside the unreserved set", q)
		}
		if strings.Contains(q, "%") && regexp.MustCompile(`%[0-9A-F]?[a-f]`).MatchString(q) {
			t.Fatalf("canonical query %q has lower-case hex", q)
		}
		back, err := url.ParseQuery(q)
		if err != nil {
			t.Fatalf("canonical query %q does not parse: %v", q, err)
		}
		delete(params, "signature")
		for k, vs := range params {
			if k == "" {
				continue
			}
			if strings.Join(back[k], "\x00") != strings.Join(sortedCopy(vs), "\x00") {
				t.Fatalf("parameter %q: sent %q, parses back as %q (query %q)", k, vs, back[k], q)
			}
		}
	})
}

func sortedCopy(vs []string) []string {
	out := append([]string(nil), vs...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

var md5Line = regexp.MustCompile(`^[0-9a-f]{32}$`)

func FuzzStringToSign(f *testing.F) {
	f.Add("POST", "/api/cluster/restartNodes", "access_key_id=k&zone=jn1a", []byte(`{"cluster_id":"ehpc-x"}`))
	f.Add("GET", "/api/operation", "", []byte{})
	f.Fuzz(func(t *testing.T, method, path, query string, body []byte) {
		sts := stringToSign(method, path, query, body)
		if !strings.HasPrefix(sts, method+"\n"+path+"\n"+query+"\n") {
			t.Fatalf("string to sign %q does not start with its inputs", sts)
		}
		if d := sts[strings.LastIndex(sts, "\n")+1:]; !md5Line.MatchString(d) {
			t.Fatalf("body digest %q is not 32 lower-case hex digits", d)
		}
		if sig := sign("secret", sts); len(sig) != 44 || !strings.HasSuffix(sig, "=") {
			t.Fatalf("signature %q is not base64 of 32 bytes", sig)
		}
	})
}
