// Package provider implements the hpc Terraform provider on the plugin framework.
// It speaks Terraform only; every HTTP and signing detail lives in internal/ehpc.
package provider

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/poll"
)

// Environment variables read when the configuration leaves an attribute unset.
const (
	EnvEndpoint  = "QINGCLOUD_HPC_ENDPOINT"
	EnvAccessKey = "QINGCLOUD_ACCESS_KEY"
	EnvSecretKey = "QINGCLOUD_SECRET_KEY"
	EnvZone      = "QINGCLOUD_ZONE"
)

var _ provider.Provider = &HPCProvider{}

// HPCProvider is the hpc provider.
type HPCProvider struct {
	version string
	opts    Options
}

// Options are knobs tests turn; users never see them.
type Options struct {
	// PollSchedule paces the wait for restart jobs.
	PollSchedule poll.Schedule
	// Clock drives the wait; nil means the wall clock.
	Clock poll.Clock
	// Getenv reads environment variables; nil means os.Getenv.
	Getenv func(string) string
	// ClientConfig adjusts the API client's config before it is built.
	ClientConfig func(*ehpc.Config)
}

// HPCProviderModel is the provider block.
type HPCProviderModel struct {
	Endpoint  types.String `tfsdk:"endpoint"`
	AccessKey types.String `tfsdk:"access_key"`
	SecretKey types.String `tfsdk:"secret_key"`
	Zone      types.String `tfsdk:"zone"`
}

// New returns the provider factory the plugin server calls.
func New(version string) func() provider.Provider {
	return NewWithOptions(version, Options{})
}

// NewWithOptions is New with test knobs.
func NewWithOptions(version string, opts Options) func() provider.Provider {
	if opts.PollSchedule == (poll.Schedule{}) {
		opts.PollSchedule = poll.DefaultSchedule
	}
	if opts.Clock == nil {
		opts.Clock = poll.RealClock
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	return func() provider.Provider {
		return &HPCProvider{version: version, opts: opts}
	}
}

func (p *HPCProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "hpc"
	resp.Version = p.version
}

func (p *HPCProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Restarts the nodes of QingCloud EHPC (elastic HPC) clusters through the EHPC API.",
		Attributes: map[string]schema.Attribute{
			"endpoint": schema.StringAttribute{
				MarkdownDescription: "Base URL of the EHPC API. Defaults to `" + ehpc.DefaultEndpoint + "`, or the `" + EnvEndpoint + "` environment variable. " +
					"Must be `https://`; plain `http://` is accepted only for a loopback host (`127.0.0.0/8`, `::1`, `localhost`), such as the bundled simulator.",
				Optional:   true,
				Validators: []validator.String{endpointValidator{}},
			},
			"access_key": schema.StringAttribute{
				MarkdownDescription: "API access key id. May also be set with the `" + EnvAccessKey + "` environment variable.",
				Optional:            true,
			},
			"secret_key": schema.StringAttribute{
				MarkdownDescription: "API secret access key. May also be set with the `" + EnvSecretKey + "` environment variable. Never logged or stored in state.",
				Optional:            true,
				Sensitive:           true,
			},
			"zone": schema.StringAttribute{
				MarkdownDescription: "Default zone (for example `jn1a`) for resources that do not set their own. May also be set with the `" + EnvZone + "` environment variable.",
				Optional:            true,
			},
		},
	}
}

// providerData is what resources receive from Configure. A missing credential is
// not an error here, only when an operation needs the API, so that validate and
// plans of configurations without restarts work without credentials.
type providerData struct {
	client  *ehpc.Client
	zone    string
	missing []string // attributes with no value from any source
	opts    Options
}

// Client returns the API client, or an error diagnostic naming every missing
// setting and every way to set it.
func (d *providerData) Client() (*ehpc.Client, error) {
	if d.client != nil {
		return d.client, nil
	}
	var b strings.Builder
	b.WriteString("The provider has no ")
	b.WriteString(strings.Join(d.missing, " or "))
	b.WriteString(", which this operation needs to call the EHPC API. Set ")
	for i, m := range d.missing {
		if i > 0 {
			b.WriteString(", and ")
		}
		fmt.Fprintf(&b, "%s in the provider \"hpc\" block or with the %s environment variable", m, envFor(m))
	}
	b.WriteString(".")
	return nil, fmt.Errorf("%s", b.String())
}

func envFor(attr string) string {
	switch attr {
	case "access_key":
		return EnvAccessKey
	case "secret_key":
		return EnvSecretKey
	case "zone":
		return EnvZone
	}
	return EnvEndpoint
}

func (p *HPCProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg HPCProviderModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}

	// A value only known after apply cannot configure a client during plan; this is
	// the framework's usual advice.
	for _, a := range []struct {
		name  string
		value types.String
	}{{"endpoint", cfg.Endpoint}, {"access_key", cfg.AccessKey}, {"secret_key", cfg.SecretKey}, {"zone", cfg.Zone}} {
		if a.value.IsUnknown() {
			resp.Diagnostics.AddAttributeError(path.Root(a.name), "Unknown EHPC Provider "+a.name,
				fmt.Sprintf("The provider cannot create the EHPC API client because %s is not known until apply. "+
					"Either target apply the source of the value first, set the value statically in the configuration, or use the %s environment variable.", a.name, envFor(a.name)))
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}

	pick := func(v types.String, env string) string {
		if !v.IsNull() {
			return strings.TrimSpace(v.ValueString())
		}
		return strings.TrimSpace(p.opts.Getenv(env))
	}
	endpoint := pick(cfg.Endpoint, EnvEndpoint)
	accessKey := pick(cfg.AccessKey, EnvAccessKey)
	secretKey := pick(cfg.SecretKey, EnvSecretKey)
	zone := pick(cfg.Zone, EnvZone)

	if endpoint == "" {
		endpoint = ehpc.DefaultEndpoint
	}
	if err := checkEndpoint(endpoint); err != nil {
		// Reached when the value came from the environment; a configured value was
		// already rejected by the attribute validator.
		resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Invalid EHPC API Endpoint",
			"The endpoint "+err.Error()+". It came from the "+EnvEndpoint+" environment variable or the provider block.")
		return
	}

	if secretKey != "" {
		ctx = tflog.MaskAllFieldValuesStrings(ctx, secretKey)
		ctx = tflog.MaskMessageStrings(ctx, secretKey)
	}
	tflog.Debug(ctx, "configuring EHPC client", map[string]any{"endpoint": endpoint, "zone": zone, "access_key_set": accessKey != "", "secret_key_set": secretKey != ""})

	data := &providerData{zone: zone, opts: p.opts}
	if accessKey == "" {
		data.missing = append(data.missing, "access_key")
	}
	if secretKey == "" {
		data.missing = append(data.missing, "secret_key")
	}
	if len(data.missing) == 0 {
		ccfg := ehpc.Config{
			Endpoint:    endpoint,
			AccessKeyID: accessKey,
			SecretKey:   secretKey,
			Zone:        zone,
			UserAgent:   fmt.Sprintf("terraform-provider-hpc/%s terraform/%s", p.version, req.TerraformVersion),
			Logger:      clientLogger(secretKey),
		}
		if p.opts.ClientConfig != nil {
			p.opts.ClientConfig(&ccfg)
		}
		client, err := ehpc.New(ccfg)
		if err != nil {
			resp.Diagnostics.AddError("Cannot Create EHPC API Client", "The provider settings are not usable: "+err.Error()+".")
			return
		}
		data.client = client
	}
	resp.DataSourceData = data
	resp.ResourceData = data
}

// clientLogger sends the client's per-request lines to tflog, with the secret
// masked once more in case any text ever carries it.
func clientLogger(secret string) ehpc.Logger {
	return func(ctx context.Context, msg string, fields map[string]any) {
		ctx = tflog.MaskAllFieldValuesStrings(ctx, secret)
		ctx = tflog.MaskMessageStrings(ctx, secret)
		tflog.Debug(ctx, msg, fields)
	}
}

func (p *HPCProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewClusterNodeRestartResource}
}

func (p *HPCProvider) DataSources(context.Context) []func() datasource.DataSource {
	return nil
}
