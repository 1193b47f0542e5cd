package provider

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
)

// checkEndpoint enforces the endpoint rule: https:// anywhere, plain http:// only to
// this machine. Request signatures are replayable for 60 seconds and the restart
// request is a write, so neither may cross a network in clear text; a simulator on
// loopback is the one place http:// is harmless.
func checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("%q is not an absolute URL; write it as https://host[:port], for example https://hpc-api.qingcloud.com", raw)
	}
	if u.User != nil {
		return fmt.Errorf("%q carries credentials in the URL; remove them and set access_key and secret_key instead", redactUserinfo(u))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q has a query or fragment; give only scheme, host, port and an optional path prefix", raw)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q uses plain http:// to %q, which is not a loopback host, so signed requests would cross the network unencrypted; use https://, or http:// only for a local simulator on 127.0.0.1, ::1 or localhost", raw, u.Hostname())
	default:
		return fmt.Errorf("%q has scheme %q; use https://", raw, u.Scheme)
	}
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func redactUserinfo(u *url.URL) string {
	c := *u
	c.User = url.User("REDACTED")
	return c.String()
}

// endpointValidator applies checkEndpoint at plan time to a configured endpoint.
type endpointValidator struct{}

var _ validator.String = endpointValidator{}

func (endpointValidator) Description(context.Context) string {
	return "must be an https:// URL, or http:// to a loopback host"
}

func (v endpointValidator) MarkdownDescription(ctx context.Context) string {
	return "must be an `https://` URL, or `http://` to a loopback host (`127.0.0.0/8`, `::1`, `localhost`)"
}

func (endpointValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := checkEndpoint(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid EHPC API Endpoint", "The endpoint "+err.Error()+".")
	}
}

// connectAdvice says what to fix when the endpoint cannot be reached at all.
func connectAdvice(err *ehpc.ConnectError) string {
	if err.Kind == "dns" {
		return "Check endpoint (or QINGCLOUD_HPC_ENDPOINT) for a typo; the default is " + ehpc.DefaultEndpoint + "."
	}
	return "Check that endpoint (or QINGCLOUD_HPC_ENDPOINT) is the API's https:// address and that this machine trusts its certificate (a corporate proxy's CA can be added to the system's trust store or SSL_CERT_FILE)."
}
