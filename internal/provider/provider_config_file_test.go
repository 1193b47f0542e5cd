package provider

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

const fileSecret = "file-secret-NEVER-IN-ERRORS"

// writeFile writes content to path (relative paths are under e.home) and returns
// the absolute path.
func (e *testEnv) writeFile(rel, content string) string {
	e.t.Helper()
	p := rel
	if !filepath.IsAbs(p) {
		p = filepath.Join(e.home, rel)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func qcFile(access, secret, zone string) string {
	return "qy_access_key_id: '" + access + "'\nqy_secret_access_key: '" + secret + "'\nzone: '" + zone + "'\nhost: 'api.qingcloud.com'\nport: 443\nprotocol: 'https'\n"
}

// configured is what Configure made of the settings: the client's config (nil
// when no client was built) and the diagnostics.
type configured struct {
	client *ehpc.Config
	diags  []*tfprotov6.Diagnostic
	p      *protoProvider
}

// plannedZone is the zone the configured provider plans a restart that leaves
// zone unset in: the zone it resolved (the client's config no longer holds one).
func (p *protoProvider) plannedZone() string {
	p.t.Helper()
	typ := p.schema.ResourceSchemas[actionType].ValueType()
	config := dynamic(p.t, typ, map[string]tftypes.Value{"cluster_id": str("ehpc-8jqdq0mz"), "node_ids": strSet("cln-cmp00001")})
	prior, err := tfprotov6.NewDynamicValue(typ, tftypes.NewValue(typ, nil))
	if err != nil {
		p.t.Fatal(err)
	}
	resp, err := p.srv.PlanResourceChange(context.Background(), &tfprotov6.PlanResourceChangeRequest{
		TypeName: actionType, PriorState: &prior, ProposedNewState: config, Config: config,
	})
	if err != nil {
		p.t.Fatal(err)
	}
	for _, d := range resp.Diagnostics {
		p.t.Fatalf("PlanResourceChange: %s: %s", d.Summary, d.Detail)
	}
	planned, err := resp.PlannedState.Unmarshal(typ)
	if err != nil {
		p.t.Fatal(err)
	}
	var attrs map[string]tftypes.Value
	var zone string
	if err := planned.As(&attrs); err != nil || attrs["zone"].As(&zone) != nil {
		p.t.Fatalf("planned state %v: %v", planned, err)
	}
	return zone
}

func (e *testEnv) configureWith(vals map[string]tftypes.Value) configured {
	e.t.Helper()
	var c configured
	c.p = e.protoServer(func(o *options) {
		inner := o.ClientConfig
		o.ClientConfig = func(cfg *ehpc.Config) {
			inner(cfg)
			cp := *cfg
			c.client = &cp
		}
	})
	c.diags = c.p.configure(vals)
	return c
}

// Each value is taken from the provider block, else the environment, else the
// QingCloud config file, independently of the others.
func TestConfigFile_precedence(t *testing.T) {
	t.Parallel()
	type want struct{ access, secret, zone string }
	cases := []struct {
		name   string
		config map[string]tftypes.Value
		env    map[string]string
		file   string // ~/.qingcloud/config.yaml
		want   want
	}{
		{
			name:   "configuration wins",
			config: map[string]tftypes.Value{"access_key": str("AK-CONFIG"), "secret_key": str("SK-CONFIG"), "zone": str("zone-config")},
			env:    map[string]string{envAccessKey: "AK-ENV", envSecretKey: "SK-ENV", envZone: "zone-env"},
			file:   qcFile("AK-FILE", fileSecret, "zone-file"),
			want:   want{"AK-CONFIG", "SK-CONFIG", "zone-config"},
		},
		{
			name: "environment beats the file",
			env:  map[string]string{envAccessKey: "AK-ENV", envSecretKey: "SK-ENV", envZone: "zone-env"},
			file: qcFile("AK-FILE", fileSecret, "zone-file"),
			want: want{"AK-ENV", "SK-ENV", "zone-env"},
		},
		{
			name: "the file alone",
			file: qcFile("AK-FILE", fileSecret, "zone-file"),
			want: want{"AK-FILE", fileSecret, "zone-file"},
		},
		{
			name:   "each value from its own source",
			config: map[string]tftypes.Value{"access_key": str("AK-CONFIG")},
			env:    map[string]string{envSecretKey: "SK-ENV"},
			file:   qcFile("AK-FILE", fileSecret, "zone-file"),
			want:   want{"AK-CONFIG", "SK-ENV", "zone-file"},
		},
		{
			name:   "a file with only a zone",
			config: map[string]tftypes.Value{"access_key": str("AK-CONFIG"), "secret_key": str("SK-CONFIG")},
			file:   "zone: pek3\n",
			want:   want{"AK-CONFIG", "SK-CONFIG", "pek3"},
		},
		{
			name:   "a complete configuration never reads the file, even a broken one",
			config: map[string]tftypes.Value{"access_key": str("AK-CONFIG"), "secret_key": str("SK-CONFIG"), "zone": str("zone-config"), "config_file": str("/nonexistent/config.yaml")},
			file:   "qy_secret_access_key: \"" + fileSecret + "\n",
			want:   want{"AK-CONFIG", "SK-CONFIG", "zone-config"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, ehpcsim.Options{})
			for k, v := range c.env {
				e.env[k] = v
			}
			if c.file != "" {
				e.writeFile(".qingcloud/config.yaml", c.file)
			}
			vals := map[string]tftypes.Value{"endpoint": str(e.srv.URL)}
			for k, v := range c.config {
				vals[k] = v
			}
			got := e.configureWith(vals)
			expectNoErrors(t, "configure", got.diags)
			if got.client == nil {
				t.Fatal("no client was built")
			}
			if g := (want{got.client.AccessKeyID, got.client.SecretKey, got.p.plannedZone()}); g != c.want {
				t.Fatalf("access/secret/zone = %+v, want %+v", g, c.want)
			}
		})
	}
}

// Which file: config_file, else QINGCLOUD_CONFIG_FILE, else the default; "~"
// expands to the home directory.
func TestConfigFile_whichFile(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, ehpcsim.Options{})
	e.writeFile(".qingcloud/config.yaml", qcFile("AK-HOME", "SK-HOME", "zone-home"))
	envFile := e.writeFile(filepath.Join(t.TempDir(), "env.yaml"), qcFile("AK-ENVFILE", "SK-ENVFILE", "zone-envfile"))
	e.writeFile("profiles/attr.yaml", qcFile("AK-ATTR", "SK-ATTR", "zone-attr"))
	base := map[string]tftypes.Value{"endpoint": str(e.srv.URL)}
	with := func(k string, v tftypes.Value) map[string]tftypes.Value {
		m := map[string]tftypes.Value{k: v}
		for bk, bv := range base {
			m[bk] = bv
		}
		return m
	}

	if got := e.configureWith(base); got.client == nil || got.client.AccessKeyID != "AK-HOME" {
		t.Fatalf("default file: %+v %v", got.client, errorsOf(got.diags))
	}
	e.env[envConfigFile] = envFile
	if got := e.configureWith(base); got.client == nil || got.client.AccessKeyID != "AK-ENVFILE" {
		t.Fatalf("%s: %+v %v", envConfigFile, got.client, errorsOf(got.diags))
	}
	if got := e.configureWith(with("config_file", str("~/profiles/attr.yaml"))); got.client == nil || got.client.AccessKeyID != "AK-ATTR" || got.p.plannedZone() != "zone-attr" {
		t.Fatalf("config_file: %+v %v", got.client, errorsOf(got.diags))
	}
}

// A missing default file is fine: the credentials error at the first operation
// says where the provider looked.
func TestConfigFile_missingDefaultIsFine(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, ehpcsim.Options{})
	got := e.configureWith(map[string]tftypes.Value{"endpoint": str(e.srv.URL), "zone": str("jn1a")})
	expectNoErrors(t, "configure", got.diags)
	if got.client != nil {
		t.Fatal("a client was built without credentials")
	}
	_, diags := got.p.readNodes(map[string]tftypes.Value{"cluster_id": str("ehpc-8jqdq0mz")})
	path := filepath.Join(e.home, ".qingcloud", "config.yaml")
	msg := expectOneError(t, "read", diags, `^Missing EHPC API Credentials: The provider has no access_key or secret_key`)
	if !strings.Contains(msg, "qy_access_key_id and qy_secret_access_key in the QingCloud config file "+path+" (it does not exist; config_file or QINGCLOUD_CONFIG_FILE can name another)") {
		t.Fatalf("message does not point at the config file: %s", msg)
	}

	// A file that exists but lacks the keys says so.
	e.writeFile(".qingcloud/config.yaml", "zone: jn1a\nqy_access_key_id: AK-FILE\n")
	got = e.configureWith(map[string]tftypes.Value{"endpoint": str(e.srv.URL)})
	_, diags = got.p.readNodes(map[string]tftypes.Value{"cluster_id": str("ehpc-8jqdq0mz")})
	msg = expectOneError(t, "read", diags, `^Missing EHPC API Credentials: The provider has no secret_key`)
	if !strings.Contains(msg, "qy_secret_access_key in the QingCloud config file "+path+" (found, but without those keys)") {
		t.Fatalf("message: %s", msg)
	}

	// No home directory: no default file to look at, and no error for it.
	e2 := newTestEnv(t, ehpcsim.Options{})
	p := e2.protoServer(func(o *options) { o.HomeDir = func() (string, error) { return "", errors.New("$HOME is not defined") } })
	expectNoErrors(t, "configure without a home", p.configure(map[string]tftypes.Value{"endpoint": str(e2.srv.URL)}))
}

// A named file that is missing, and any file that cannot be read or parsed, is an
// error naming the file and never its content.
func TestConfigFile_errors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		setup func(e *testEnv) map[string]tftypes.Value
		want  string
		attr  bool // attached to the config_file attribute
	}{
		{"config_file missing", func(e *testEnv) map[string]tftypes.Value {
			return map[string]tftypes.Value{"config_file": str(filepath.Join(e.home, "nope.yaml"))}
		}, `nope\.yaml cannot be read: it does not exist\. The file is named by the provider's config_file argument\.`, true},
		{"QINGCLOUD_CONFIG_FILE missing", func(e *testEnv) map[string]tftypes.Value {
			e.env[envConfigFile] = filepath.Join(e.home, "gone.yaml")
			return nil
		}, `gone\.yaml cannot be read: it does not exist\. The file is named by the QINGCLOUD_CONFIG_FILE environment variable\.`, false},
		{"default file malformed", func(e *testEnv) map[string]tftypes.Value {
			e.writeFile(".qingcloud/config.yaml", "qy_access_key_id: AK\nqy_secret_access_key: \""+fileSecret+"\n")
			return nil
		}, `\.qingcloud/config\.yaml is not valid YAML \(near line \d\).*It is the default QingCloud config file\..*fix the file`, false},
		{"secret as a list", func(e *testEnv) map[string]tftypes.Value {
			e.writeFile(".qingcloud/config.yaml", "qy_secret_access_key:\n  - "+fileSecret+"\n")
			return nil
		}, `has a qy_secret_access_key that is not a single value \(line 2\)`, false},
		{"a directory", func(e *testEnv) map[string]tftypes.Value {
			return map[string]tftypes.Value{"config_file": str(e.home)}
		}, `is a directory, not a file`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, ehpcsim.Options{})
			vals := map[string]tftypes.Value{"endpoint": str(e.srv.URL), "zone": str("jn1a")}
			for k, v := range c.setup(e) {
				vals[k] = v
			}
			got := e.configureWith(vals)
			msg := expectOneError(t, "configure", got.diags, `^Cannot Read QingCloud Config File( \[AttributeName\("config_file"\)\])?: QingCloud config file .*`+c.want)
			if strings.Contains(msg, fileSecret) || strings.Contains(msg, "NEVER") {
				t.Fatalf("error leaks the file's content: %s", msg)
			}
			if hasAttr := strings.Contains(msg, `[AttributeName("config_file")]`); hasAttr != c.attr {
				t.Fatalf("attached to config_file: %v, want %v: %s", hasAttr, c.attr, msg)
			}
		})
	}
}

// End to end on the real CLI: a provider block with only the endpoint works from
// ~/.qingcloud/config.yaml.
func TestAccProvider_configFile(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{})
	e.writeFile(".qingcloud/config.yaml", qcFile(ehpcsim.DemoAccessKeyID, ehpcsim.DemoSecretKey, ehpcsim.DemoZone))
	cfg := `
provider "hpc" {
  endpoint = "` + e.srv.URL + `"
}
data "hpc_cluster_nodes" "login" {
  cluster_id = "ehpc-8jqdq0mz"
  role       = "login"
}
resource "hpc_cluster_node_restart" "test" {
  cluster_id = "ehpc-8jqdq0mz"
  node_ids   = data.hpc_cluster_nodes.login.ids
}`
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{{
			Config: cfg,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.hpc_cluster_nodes.login", tfjsonpath.New("zone"), knownvalue.StringExact("jn1a")),
				statecheck.ExpectKnownValue(restartAddr, tfjsonpath.New("zone"), knownvalue.StringExact("jn1a")),
				e.expectRestarts(map[string]int{"cln-login001": 1}),
			},
		}},
	})
}

// A named file that is missing fails the plan (when configuring the provider,
// after validation passed), naming the file.
func TestAccProvider_namedConfigFileMissing(t *testing.T) {
	e := newTestEnv(t, ehpcsim.Options{})
	e.writeFile(".qingcloud/config.yaml", "qy_secret_access_key: \""+fileSecret+"\n") // broken, but never read: a file is named
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories(),
		Steps: []resource.TestStep{{
			Config: `
provider "hpc" {
  config_file = "/nonexistent/config.yaml"
}
data "hpc_cluster_nodes" "compute" {
  cluster_id = "ehpc-8jqdq0mz"
  role       = "compute"
}
resource "hpc_cluster_node_restart" "test" {
  cluster_id = "ehpc-8jqdq0mz"
  node_ids   = data.hpc_cluster_nodes.compute.ids
}`,
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
			ExpectError:        flexRegex(`(?s)Cannot Read QingCloud Config File.*/nonexistent/config\.yaml cannot be read: it does not exist`),
		}},
	})
}
