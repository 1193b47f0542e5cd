package registrytest

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestStandIn runs the HCP Terraform stand-in (and, with HPC_STANDIN_MIRROR set
// to a folder, a static HTTPS file server of it) until HPC_STANDIN_DIR/stop
// exists, so commands can be tried by hand against it: the publishing guide's
// were. It writes into HPC_STANDIN_DIR: ca.pem (for SSL_CERT_FILE), host (the
// stand-in's host), token (its API token) and mirror-url. HPC_STANDIN_ADDR picks
// the stand-in's address, such as localhost:443, where the host has no port and
// Terraform's TF_TOKEN_<host> variables can name it. Skipped unless
// HPC_STANDIN_DIR is set.
//
//	HPC_STANDIN_DIR=/tmp/standin go test -run TestStandIn -timeout 0 ./internal/registrytest/
func TestStandIn(t *testing.T) {
	dir := os.Getenv("HPC_STANDIN_DIR")
	if dir == "" {
		t.Skip("set HPC_STANDIN_DIR to run the stand-in by hand")
	}
	ca := newTestCA(t)
	reg := newTFC(t, ca)
	host := reg.Host()
	if addr := os.Getenv("HPC_STANDIN_ADDR"); addr != "" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: reg.srv.Config.Handler, ReadHeaderTimeout: 10 * time.Second,
			TLSConfig: &tls.Config{Certificates: []tls.Certificate{ca.leaf}, MinVersion: tls.VersionTLS12}}
		go func() { _ = srv.ServeTLS(l, "", "") }()
		t.Cleanup(func() { _ = srv.Close() })
		reg.srv.Close()
		host = addr
		if h, port, _ := net.SplitHostPort(addr); port == "443" {
			host = h
		}
		reg.hostOverride = host
	}
	files := map[string]string{"host": host, "token": testToken}
	if m := os.Getenv("HPC_STANDIN_MIRROR"); m != "" {
		fs := httptest.NewUnstartedServer(http.FileServer(http.Dir(m)))
		fs.TLS = &tls.Config{Certificates: []tls.Certificate{ca.leaf}, MinVersion: tls.VersionTLS12}
		fs.StartTLS()
		t.Cleanup(fs.Close)
		files["mirror-url"] = fs.URL + "/"
	}
	ca2, err := os.ReadFile(ca.certFile)
	if err != nil {
		t.Fatal(err)
	}
	files["ca.pem"] = string(ca2)
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("stand-in at %s; touch %s to stop", host, filepath.Join(dir, "stop"))
	for {
		if _, err := os.Stat(filepath.Join(dir, "stop")); !errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}
