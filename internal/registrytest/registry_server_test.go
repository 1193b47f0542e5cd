package registrytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	rel "github.com/qingcloud/terraform-provider-hpc/internal/release"
)

// manifestProtocols reads the plugin protocol versions the registry manifest
// declares, as the publish command does.
func manifestProtocols(t *testing.T, manifest []byte) []string {
	t.Helper()
	protocols, err := rel.ManifestProtocols(manifest)
	if err != nil {
		t.Fatalf("terraform-registry-manifest.json: %v", err)
	}
	return protocols
}

// registry is a private provider registry on loopback HTTPS, implementing the
// provider registry protocol (https://developer.hashicorp.com/terraform/internals/provider-registry-protocol)
// for one provider, qingcloud/hpc, and one release.
type registry struct {
	srv *httptest.Server
	rel *release
	// files is what /files/ serves: the release's files, possibly tampered with.
	files map[string][]byte
	// shasum is the zip's checksum the download response gives; the real one
	// unless a test sets another.
	shasum string

	mu       sync.Mutex
	requests map[string]int // path -> count
}

// Host is the registry's host as it appears in a provider source address.
func (r *registry) Host() string { return r.srv.Listener.Addr().String() }

func (r *registry) Requests(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests[path]
}

// newRegistry serves rel over TLS with a certificate from ca. files, if not nil,
// replaces what is downloaded, and shasum, if not empty, the zip's checksum in the
// download response (to serve a tampered release).
func newRegistry(t *testing.T, ca *testCA, rel *release, files map[string][]byte, shasum string) *registry {
	t.Helper()
	if files == nil {
		files = rel.Files
	}
	if shasum == "" {
		shasum = sha256Hex(rel.Files[rel.ZipName()])
	}
	r := &registry{rel: rel, files: files, shasum: shasum, requests: map[string]int{}}
	mux := http.NewServeMux()
	// Service discovery: where this host's provider registry API lives.
	mux.HandleFunc("GET /.well-known/terraform.json", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]string{"providers.v1": "/v1/providers/"})
	})
	mux.HandleFunc("GET /v1/providers/qingcloud/hpc/versions", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{"versions": []any{map[string]any{
			"version":   rel.Version,
			"protocols": rel.Protocols,
			"platforms": []any{map[string]string{"os": rel.OS, "arch": rel.Arch}},
		}}})
	})
	mux.HandleFunc("GET /v1/providers/qingcloud/hpc/{version}/download/{os}/{arch}", func(w http.ResponseWriter, req *http.Request) {
		if req.PathValue("version") != rel.Version || req.PathValue("os") != rel.OS || req.PathValue("arch") != rel.Arch {
			http.NotFound(w, req)
			return
		}
		base := "https://" + r.Host() + "/files/"
		writeJSON(w, map[string]any{
			"protocols":             rel.Protocols,
			"os":                    rel.OS,
			"arch":                  rel.Arch,
			"filename":              rel.ZipName(),
			"download_url":          base + rel.ZipName(),
			"shasums_url":           base + rel.SumsName(),
			"shasums_signature_url": base + rel.SigName(),
			"shasum":                r.shasum,
			"signing_keys": map[string]any{"gpg_public_keys": []any{map[string]any{
				"key_id":      rel.KeyID,
				"ascii_armor": rel.ArmoredKey,
			}}},
		})
	})
	mux.HandleFunc("GET /files/{name}", func(w http.ResponseWriter, req *http.Request) {
		b, ok := r.files[req.PathValue("name")]
		if !ok {
			http.NotFound(w, req)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(b)
	})

	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.requests[req.URL.Path]++
		r.mu.Unlock()
		mux.ServeHTTP(w, req)
	}))
	r.srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.leaf}, MinVersion: tls.VersionTLS12}
	r.srv.StartTLS()
	t.Cleanup(r.srv.Close)
	return r
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// testCA is a certificate authority made for one test run, and a server
// certificate it issued for the loopback addresses. The CLI trusts it through
// SSL_CERT_FILE, which replaces the system's roots for that process only.
type testCA struct {
	leaf     tls.Certificate
	certFile string // the CA certificate, PEM
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "terraform-provider-hpc registry test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}

	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}

	certFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &testCA{
		leaf:     tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey},
		certFile: certFile,
	}
}
