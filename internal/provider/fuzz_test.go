package provider

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"unicode"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// The endpoint rule is the provider's guard against sending signed restarts in
// clear text: any accepted endpoint must be https, or http to loopback.
func FuzzCheckEndpoint(f *testing.F) {
	for _, s := range []string{"https://hpc-api.qingcloud.com", "http://127.0.0.1:8080", "http://[::1]:1", "http://localhost.", "HTTP://LOCALHOST", "http://0x7f.1", "http://127.1", "http://[::ffff:127.0.0.1]", "//evil.com", "http://user@127.0.0.1", "http://127.0.0.1%2f@evil.com", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := checkEndpoint(raw)
		resp := &validator.StringResponse{}
		endpointValidator{}.ValidateString(context.Background(), validator.StringRequest{Path: path.Root("endpoint"), ConfigValue: types.StringValue(raw)}, resp)
		if (err != nil) != resp.Diagnostics.HasError() {
			t.Fatalf("validator and checkEndpoint disagree on %q: %v vs %v", raw, err, resp.Diagnostics)
		}
		if err != nil {
			return
		}
		u, perr := url.Parse(raw)
		if perr != nil {
			t.Fatalf("accepted %q, which does not parse: %v", raw, perr)
		}
		switch strings.ToLower(u.Scheme) {
		case "https":
		case "http":
			if !isLoopbackHost(u.Hostname()) {
				t.Fatalf("accepted plain http to non-loopback host %q in %q", u.Hostname(), raw)
			}
		default:
			t.Fatalf("accepted scheme %q in %q", u.Scheme, raw)
		}
		if u.User != nil {
			t.Fatalf("accepted credentials in %q", raw)
		}
	})
}

// Ids reach the API only after the schema's validator: it must accept exactly
// the non-empty strings without white space, whatever bytes arrive.
func FuzzIDValidator(f *testing.F) {
	for _, s := range []string{"cln-hzzvbtnh", "", " ", "a b", "ehpc-8jqdq0mz\n", "\u00a0", "\u2003x", "é", "\xff"} {
		f.Add(s)
	}
	v := idValidator("cln-hzzvbtnh")
	f.Fuzz(func(t *testing.T, id string) {
		resp := &validator.StringResponse{}
		v.ValidateString(context.Background(), validator.StringRequest{Path: path.Root("node_ids"), ConfigValue: types.StringValue(id)}, resp)
		want := id == "" || strings.ContainsFunc(id, unicode.IsSpace)
		if resp.Diagnostics.HasError() != want {
			t.Fatalf("id %q: rejected=%v, want %v", id, resp.Diagnostics.HasError(), want)
		}
	})
}
