// Package provider implements the hpc Terraform provider on the plugin framework.
// It speaks Terraform only; every HTTP and signing detail lives in internal/ehpc.
package provider

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/qingcloud/terraform-provider-hpc/internal/clock"
	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/jobwatch"
	"github.com/qingcloud/terraform-provider-hpc/internal/qcconfig"
)

// Address is the provider's address, the one the code and the project's tools
// use: main.go serves it, the docs are generated from it and the tests attach
// under it. Users install from their own registry, so the examples and the
// guide write registry.example.com/qingcloud/hpc instead (see CONTRIBUTING.md,
// "One provider address").
const Address = "registry.terraform.io/qingcloud/hpc"

// Environment variables read when the configuration leaves an attribute unset.
const (
	envEndpoint  = "QINGCLOUD_HPC_ENDPOINT"
	envAccessKey = "QINGCLOUD_ACCESS_KEY"
	envSecretKey = "QINGCLOUD_SECRET_KEY"
	envZone      = "QINGCLOUD_ZONE"
	// EnvConfigFile names the QingCloud config file, the last fallback for the
	// credentials and the zone (default ~/.qingcloud/config.yaml).
	envConfigFile = "QINGCLOUD_CONFIG_FILE"
)

var (
	_ provider.Provider            = &HPCProvider{}
	_ provider.ProviderWithActions = &HPCProvider{}
)

// HPCProvider is the hpc provider.
type HPCProvider struct {
	version string
	opts    options
}

// options are knobs tests turn; users never see them.
type options struct {
	// PollSchedule paces the wait for restart jobs.
	PollSchedule jobwatch.Schedule
	// Clock drives the wait; nil means the wall clock.
	Clock clock.Clock
	// Getenv reads environment variables; nil means os.Getenv.
	Getenv func(string) string
	// ClientConfig adjusts the API client's config before it is built.
	ClientConfig func(*ehpc.Config)
	// HomeDir finds the home directory holding .qingcloud/config.yaml; nil means
	// os.UserHomeDir. Tests point it at a temporary directory.
	HomeDir func() (string, error)
	// ActionProgressInterval is the least time between two "still waiting"
	// progress lines (the action's events, the resource's INFO lines); 0
	// means 30 s.
	ActionProgressInterval time.Duration
}

// HPCProviderModel is the provider block.
type HPCProviderModel struct {
	Endpoint   types.String `tfsdk:"endpoint"`    // else QINGCLOUD_HPC_ENDPOINT, else the public API
	AccessKey  types.String `tfsdk:"access_key"`  // else QINGCLOUD_ACCESS_KEY, else the config file
	SecretKey  types.String `tfsdk:"secret_key"`  // else QINGCLOUD_SECRET_KEY, else the config file
	Zone       types.String `tfsdk:"zone"`        // else QINGCLOUD_ZONE, else the config file
	ConfigFile types.String `tfsdk:"config_file"` // else QINGCLOUD_CONFIG_FILE, else ~/.qingcloud/config.yaml
	// RequestsPerHour and RequestBurst size the instance's client-side rate limiter.
	RequestsPerHour types.Int64 `tfsdk:"api_requests_per_hour"`
	RequestBurst    types.Int64 `tfsdk:"api_request_burst"`
}

// New returns the provider factory the plugin server calls.
func New(version string) func() provider.Provider {
	return newWithOptions(version, options{})
}

// newWithOptions is New with test knobs.
func newWithOptions(version string, opts options) func() provider.Provider {
	if opts.PollSchedule == (jobwatch.Schedule{}) {
		opts.PollSchedule = jobwatch.DefaultSchedule
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.HomeDir == nil {
		opts.HomeDir = os.UserHomeDir
	}
	if opts.ActionProgressInterval <= 0 {
		opts.ActionProgressInterval = defaultProgressInterval
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
				MarkdownDescription: "Base URL of the EHPC API. Defaults to `" + ehpc.DefaultEndpoint + "`, or the `" + envEndpoint + "` environment variable. " +
					"Must be `https://`; plain `http://` is accepted only for a loopback host (`127.0.0.0/8`, `::1`, `localhost`), such as the bundled simulator.",
				Optional:   true,
				Validators: []validator.String{endpointValidator{}},
			},
			"access_key": schema.StringAttribute{
				MarkdownDescription: "API access key id. May also be set with the `" + envAccessKey + "` environment variable.",
				Optional:            true,
			},
			"secret_key": schema.StringAttribute{
				MarkdownDescription: "API secret access key. May also be set with the `" + envSecretKey + "` environment variable. Never logged or stored in state.",
				Optional:            true,
				Sensitive:           true,
			},
			"zone": schema.StringAttribute{
				MarkdownDescription: "Default zone (for example `jn1a`) for resources that do not set their own. May also be set with the `" + envZone + "` environment variable.",
				Optional:            true,
			},
			"api_requests_per_hour": schema.Int64Attribute{
				MarkdownDescription: fmt.Sprintf("Sustained rate of API requests this provider instance may send, shared by every resource, data source and action it serves "+
					"(default `%d`). The API allows 2000 requests per hour per key and answers `2500` beyond that; the default, "+
					"with `api_request_burst`, sends at most 1800 in any hour, leaving a tenth of the key's budget to other users of the key. "+
					"When requests are held back noticeably, the apply says so (warning **API Requests Paced**); "+
					"see the [large clusters guide](guides/large-clusters.md) for what each shape of restart costs.", defaultRequestsPerHour),
				Optional:   true,
				Validators: []validator.Int64{int64validator.Between(1, 1_000_000)},
			},
			"api_request_burst": schema.Int64Attribute{
				MarkdownDescription: fmt.Sprintf("How many requests may be sent at once before `api_requests_per_hour` paces them (default `%d`), "+
					"so that many restarts applied in parallel start together. In any hour the provider sends at most this burst plus `api_requests_per_hour`.", defaultRequestBurst),
				Optional:   true,
				Validators: []validator.Int64{int64validator.Between(1, 10_000)},
			},
			"config_file": schema.StringAttribute{
				MarkdownDescription: "Path of a QingCloud config file (`~` expands to the home directory), the last fallback for `access_key`, `secret_key` and `zone`, " +
					"read from its `" + qcconfig.KeyAccessKeyID + "`, `" + qcconfig.KeySecretAccessKey + "` and `" + qcconfig.KeyZone + "` keys. " +
					"May also be set with the `" + envConfigFile + "` environment variable; defaults to `~/" + qcconfig.DefaultRelPath + "`, which may be absent. " +
					"The file is read only when one of those values is set neither here nor in the environment; a named file that does not exist, " +
					"or any file that cannot be read or parsed, is then an error.",
				Optional:   true,
				Validators: []validator.String{stringvalidator.RegexMatches(notBlank, "must not be blank: remove config_file to use ~/"+qcconfig.DefaultRelPath)},
			},
		},
	}
}

func (p *HPCProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewClusterNodeRestartResource}
}

func (p *HPCProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{NewClusterNodesDataSource}
}

func (p *HPCProvider) Actions(context.Context) []func() action.Action {
	return []func() action.Action{NewClusterNodeRestartAction}
}

// Client-side rate limit defaults: at most 1800 requests in any hour, against the
// API's 2000 per key (a tenth left for the console and other tools of the key),
// while 300 restarts applied in parallel still start at once. The large clusters
// guide says why.
const (
	defaultRequestsPerHour = 1500
	defaultRequestBurst    = 300
)
