// Package provider implements the hpc Terraform provider on the plugin framework.
// It speaks Terraform only; every HTTP and signing detail lives in internal/ehpc.
package provider

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	"golang.org/x/time/rate"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/jobwatch"
	"github.com/qingcloud/terraform-provider-hpc/internal/poll"
	"github.com/qingcloud/terraform-provider-hpc/internal/qcconfig"
)

// Environment variables read when the configuration leaves an attribute unset.
const (
	EnvEndpoint  = "QINGCLOUD_HPC_ENDPOINT"
	EnvAccessKey = "QINGCLOUD_ACCESS_KEY"
	EnvSecretKey = "QINGCLOUD_SECRET_KEY"
	EnvZone      = "QINGCLOUD_ZONE"
	// EnvConfigFile names the QingCloud config file, the last fallback for the
	// credentials and the zone (default ~/.qingcloud/config.yaml).
	EnvConfigFile = "QINGCLOUD_CONFIG_FILE"
)

var (
	_ provider.Provider            = &HPCProvider{}
	_ provider.ProviderWithActions = &HPCProvider{}
)

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
	// HomeDir finds the home directory holding .qingcloud/config.yaml; nil means
	// os.UserHomeDir. Tests point it at a temporary directory.
	HomeDir func() (string, error)
	// ActionProgressInterval is the least time between the action's "still
	// waiting" progress messages; 0 means 30 s.
	ActionProgressInterval time.Duration
	// JobMissingAfter is how long an accepted job may stay absent from the
	// operation log before the wait reports it missing; 0 means 2 minutes.
	JobMissingAfter time.Duration
}

// HPCProviderModel is the provider block.
type HPCProviderModel struct {
	Endpoint   types.String `tfsdk:"endpoint"`
	AccessKey  types.String `tfsdk:"access_key"`
	SecretKey  types.String `tfsdk:"secret_key"`
	Zone       types.String `tfsdk:"zone"`
	ConfigFile types.String `tfsdk:"config_file"`
	// RequestsPerHour and RequestBurst size the instance's client-side rate limiter.
	RequestsPerHour types.Int64 `tfsdk:"api_requests_per_hour"`
	RequestBurst    types.Int64 `tfsdk:"api_request_burst"`
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
	if opts.HomeDir == nil {
		opts.HomeDir = os.UserHomeDir
	}
	if opts.ActionProgressInterval <= 0 {
		opts.ActionProgressInterval = defaultActionProgressInterval
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
			"api_requests_per_hour": schema.Int64Attribute{
				MarkdownDescription: fmt.Sprintf("Sustained rate of API requests this provider instance may send, shared by every resource, data source and action it serves "+
					"(default `%d`). The API allows 2000 requests per hour per key and answers `2500` beyond that; the default keeps a long apply, "+
					"together with `api_request_burst`, well inside that budget and leaves room for other users of the key.", defaultRequestsPerHour),
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
					"May also be set with the `" + EnvConfigFile + "` environment variable; defaults to `~/" + qcconfig.DefaultRelPath + "`, which may be absent. " +
					"The file is read only when one of those values is set neither here nor in the environment; a named file that does not exist, " +
					"or any file that cannot be read or parsed, is then an error.",
				Optional:   true,
				Validators: []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`\S`), "must not be blank: remove config_file to use ~/"+qcconfig.DefaultRelPath)},
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
	// poller is this provider instance's coalesced job poller: every wait on the
	// same zone and cluster shares its operation-log requests (internal/jobwatch).
	poller *jobwatch.Poller
	// configFile is the QingCloud config file consulted for missing values ("" when
	// none was: nothing was missing, or no home directory); configFileFound says
	// whether it existed.
	configFile      string
	configFileFound bool
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
	keys := make([]string, len(d.missing))
	for i, m := range d.missing {
		keys[i] = fileKeyFor(m)
	}
	b.WriteString(", or set " + strings.Join(keys, " and ") + " in ")
	b.WriteString(d.configFileAdvice())
	b.WriteString(".")
	return nil, fmt.Errorf("%s", b.String())
}

// configFileAdvice describes the QingCloud config file for an error message that
// suggests setting a value there.
func (d *providerData) configFileAdvice() string {
	switch {
	case d.configFile == "":
		return "the QingCloud config file ~/" + qcconfig.DefaultRelPath + " (or the file named by config_file or " + EnvConfigFile + ")"
	case d.configFileFound:
		return "the QingCloud config file " + d.configFile + " (found, but without those keys)"
	default:
		return "the QingCloud config file " + d.configFile + " (it does not exist; config_file or " + EnvConfigFile + " can name another)"
	}
}

// missingZoneDetail is the detail of a "Missing Zone" error for subject (such as
// "this restart"): every place a zone can come from.
func (d *providerData) missingZoneDetail(subject, owner string) string {
	return fmt.Sprintf("No zone is set for %s: set zone on this %s, or zone in the provider \"hpc\" block, or the %s environment variable, or %s in %s.",
		subject, owner, EnvZone, qcconfig.KeyZone, d.configFileAdvice())
}

func envFor(attr string) string {
	switch attr {
	case "access_key":
		return EnvAccessKey
	case "secret_key":
		return EnvSecretKey
	case "zone":
		return EnvZone
	case "config_file":
		return EnvConfigFile
	}
	return EnvEndpoint
}

// fileKeyFor names the QingCloud config file's key for a provider attribute.
func fileKeyFor(attr string) string {
	switch attr {
	case "access_key":
		return qcconfig.KeyAccessKeyID
	case "secret_key":
		return qcconfig.KeySecretAccessKey
	}
	return qcconfig.KeyZone
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
	}{{"endpoint", cfg.Endpoint}, {"access_key", cfg.AccessKey}, {"secret_key", cfg.SecretKey}, {"zone", cfg.Zone}, {"config_file", cfg.ConfigFile}} {
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

	// The QingCloud config file is the last fallback, read only when a value is
	// still missing, so a configuration that sets everything never touches it.
	var file configFileResult
	if accessKey == "" || secretKey == "" || zone == "" {
		var ok bool
		file, ok = p.readConfigFile(cfg.ConfigFile, &resp.Diagnostics)
		if !ok {
			return
		}
		accessKey = cmp.Or(accessKey, file.values.AccessKeyID)
		secretKey = cmp.Or(secretKey, file.values.SecretAccessKey)
		zone = cmp.Or(zone, file.values.Zone)
	}

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
	tflog.Debug(ctx, "configuring EHPC client", map[string]any{"endpoint": endpoint, "zone": zone, "access_key_set": accessKey != "", "secret_key_set": secretKey != "", "config_file": file.path, "config_file_found": file.found})

	data := &providerData{zone: zone, opts: p.opts, configFile: file.path, configFileFound: file.found}
	if accessKey == "" {
		data.missing = append(data.missing, "access_key")
	}
	if secretKey == "" {
		data.missing = append(data.missing, "secret_key")
	}
	if len(data.missing) == 0 {
		ccfg := ehpc.Config{
			Limiter:     newLimiter(cfg.RequestsPerHour, cfg.RequestBurst),
			Endpoint:    endpoint,
			AccessKeyID: accessKey,
			SecretKey:   secretKey,
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
		data.poller = newPoller(client, p.opts)
	}
	resp.DataSourceData = data
	resp.ResourceData = data
	resp.ActionData = data
}

// configFileResult is what the QingCloud config file gave.
type configFileResult struct {
	values qcconfig.Config
	path   string // the file consulted; "" when there was none to consult
	found  bool
}

// readConfigFile reads the QingCloud config file named by config_file, else by
// QINGCLOUD_CONFIG_FILE, else ~/.qingcloud/config.yaml. The default file may be
// absent; a named one must exist. Any file that exists must be readable and
// well-formed. Errors name the file, never its content.
func (p *HPCProvider) readConfigFile(attr types.String, diags *diag.Diagnostics) (configFileResult, bool) {
	home, homeErr := p.opts.HomeDir()
	if homeErr != nil {
		home = ""
	}
	var fpath, source string
	switch {
	case !attr.IsNull() && strings.TrimSpace(attr.ValueString()) != "":
		fpath, source = strings.TrimSpace(attr.ValueString()), "the provider's config_file argument"
	case strings.TrimSpace(p.opts.Getenv(EnvConfigFile)) != "":
		fpath, source = strings.TrimSpace(p.opts.Getenv(EnvConfigFile)), "the "+EnvConfigFile+" environment variable"
	case home != "":
		fpath = qcconfig.DefaultPath(home)
	default:
		return configFileResult{}, true // no home directory: no default file to look at
	}
	explicit := source != ""
	fpath = qcconfig.ExpandHome(fpath, home)

	values, err := qcconfig.Load(fpath)
	switch {
	case err == nil:
		return configFileResult{values: values, path: fpath, found: true}, true
	case qcconfig.IsNotExist(err) && !explicit:
		return configFileResult{path: fpath}, true
	}
	detail := err.Error() + "."
	if explicit {
		detail += " The file is named by " + source + "."
	} else {
		detail += " It is the default QingCloud config file."
	}
	detail += " It is read because access_key, secret_key or zone is set neither in the provider \"hpc\" block nor in the environment: " +
		"fix the file, name another with config_file or " + EnvConfigFile + ", or set those values in the provider block or the environment."
	if explicit && !attr.IsNull() {
		diags.AddAttributeError(path.Root("config_file"), "Cannot Read QingCloud Config File", detail)
	} else {
		diags.AddError("Cannot Read QingCloud Config File", detail)
	}
	return configFileResult{}, false
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
	return []func() datasource.DataSource{NewClusterNodesDataSource}
}

func (p *HPCProvider) Actions(context.Context) []func() action.Action {
	return []func() action.Action{NewClusterNodeRestartAction}
}

// Client-side rate limit defaults: at most 1100 requests in any hour, against the
// API's 2000 per key, while 100 restarts applied in parallel still start at once.
const (
	defaultRequestsPerHour = 1000
	defaultRequestBurst    = 100
)

// newLimiter is the token bucket one provider instance shares across everything it
// serves, so many resources waiting in parallel cannot together exhaust the key's
// hourly quota (which resets only at midnight, so running into it is costly).
func newLimiter(perHour, burst types.Int64) *rate.Limiter {
	r, b := int64(defaultRequestsPerHour), int64(defaultRequestBurst)
	if !perHour.IsNull() && !perHour.IsUnknown() {
		r = perHour.ValueInt64()
	}
	if !burst.IsNull() && !burst.IsUnknown() {
		b = burst.ValueInt64()
	}
	return rate.NewLimiter(rate.Limit(float64(r)/3600), int(b))
}

// providerDataFrom is the Configure step every resource, data source and action
// shares: nil before the provider is configured (validate, early plan), else the
// instance's data.
func providerDataFrom(v any, diags *diag.Diagnostics) *providerData {
	if v == nil {
		return nil
	}
	data, ok := v.(*providerData)
	if !ok {
		diags.AddError("Unexpected Provider Data", fmt.Sprintf("Expected *providerData, got %T. This is a bug in the provider; please report it.", v))
	}
	return data
}

// operation returns what an operation that calls the API needs: the client and the
// zone (zone, the operation's own, else the provider's). Otherwise it adds one
// diagnostic per missing piece, naming every way to set it, and returns nil.
// subject and owner word the zone error ("this restart", "resource").
func (d *providerData) operation(zone, subject, owner string, diags *diag.Diagnostics) (*ehpc.Client, string) {
	if d == nil {
		diags.AddError("Provider Not Configured", "The hpc provider was not configured before "+subject+". This is a bug in the provider; please report it.")
		return nil, ""
	}
	if zone = strings.TrimSpace(zone); zone == "" {
		zone = d.zone
	}
	if zone == "" {
		diags.AddAttributeError(path.Root("zone"), "Missing Zone", d.missingZoneDetail(subject, owner))
	}
	client, err := d.Client()
	if err != nil {
		diags.AddError("Missing EHPC API Credentials", err.Error())
	}
	if zone == "" || err != nil {
		return nil, ""
	}
	return client, zone
}
