package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
)

func TestProviderSchemaIsValid(t *testing.T) {
	// A provider that fails GetProviderSchema breaks every command; check it
	// without the CLI so the failure is obvious.
	srv, err := providerserver.NewProtocol6WithError(New("test")())()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Diagnostics {
		t.Errorf("schema diagnostic: %s: %s", d.Summary, d.Detail)
	}
	if _, ok := resp.ResourceSchemas["hpc_cluster_node_restart"]; !ok {
		t.Fatalf("resource schema missing; have %v", resp.ResourceSchemas)
	}
}

func TestCheckEndpoint(t *testing.T) {
	ok := []string{"https://hpc-api.qingcloud.com", "https://hpc.api.qingcloud.com/", "http://127.0.0.1:8080", "http://127.9.9.9", "http://[::1]:9000", "http://localhost:1", "http://LOCALHOST", "https://10.0.0.1/prefix"}
	for _, e := range ok {
		if err := checkEndpoint(e); err != nil {
			t.Errorf("checkEndpoint(%q) = %v, want ok", e, err)
		}
	}
	bad := map[string]string{
		"http://hpc-api.qingcloud.com": "not a loopback host",
		"http://10.0.0.5:80":           "not a loopback host",
		"http://localhost.evil.com":    "not a loopback host",
		"ftp://127.0.0.1":              "use https://",
		"hpc-api.qingcloud.com":        "not an absolute URL",
		"https://u:p@host":             "credentials in the URL",
		"https://host/?a=b":            "query or fragment",
		"":                             "not an absolute URL",
	}
	for e, want := range bad {
		err := checkEndpoint(e)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("checkEndpoint(%q) = %v, want error containing %q", e, err, want)
		}
		if err != nil && strings.Contains(err.Error(), ":p@") {
			t.Errorf("checkEndpoint(%q) leaks the URL password: %v", e, err)
		}
	}
}
