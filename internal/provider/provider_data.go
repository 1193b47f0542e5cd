package provider

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	"golang.org/x/time/rate"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
	"github.com/qingcloud/terraform-provider-hpc/internal/jobwatch"
	"github.com/qingcloud/terraform-provider-hpc/internal/rollout"
)

// providerData is what resources receive from Configure. A missing credential is
// not an error here, only when an operation needs the API, so that validate and
// plans of configurations without restarts work without credentials.
type providerData struct {
	client  *ehpc.Client
	zone    string
	missing []string // attributes with no value from any source
	opts    options
	// engine runs this provider instance's rollouts, with its coalesced job
	// poller: every wait on the same zone and cluster shares its operation-log
	// requests (internal/jobwatch).
	engine *rollout.Engine
	// pacing is the instance's rate limit and what it held back.
	pacing *pacing
	// gone are the records this instance deleted (replaced.go): a create
	// that replaces a record comes right after its delete.
	gone   []goneRecord
	goneMu sync.Mutex
	// configFile is the QingCloud config file consulted for missing values ("" when
	// none was: nothing was missing, or no home directory); configFileFound says
	// whether it existed.
	configFile      string
	configFileFound bool
	// lagWarned is set once an operation of this instance has warned that
	// the log lags longer than assumed (logLagWarning): once is enough.
	lagWarned atomic.Bool
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

// clientLogger sends the client's per-request lines to tflog, with the secret
// masked once more in case any text ever carries it.
func clientLogger(secret string) ehpc.Logger {
	return func(ctx context.Context, msg string, fields map[string]any) {
		ctx = tflog.MaskAllFieldValuesStrings(ctx, secret)
		ctx = tflog.MaskMessageStrings(ctx, secret)
		tflog.Debug(ctx, msg, fields)
	}
}

// clientWarner sends the client's warnings (a log lagging longer than the
// exactly-once settling assumes) to tflog at WARN, masked as clientLogger's.
func clientWarner(secret string) ehpc.Logger {
	return func(ctx context.Context, msg string, fields map[string]any) {
		ctx = tflog.MaskAllFieldValuesStrings(ctx, secret)
		ctx = tflog.MaskMessageStrings(ctx, secret)
		tflog.Warn(ctx, msg, fields)
	}
}

// pacing is the instance's client-side rate limit: a token bucket of perHour
// requests an hour after a burst of burst, shared across everything it serves,
// so many resources waiting in parallel cannot together exhaust the key's
// hourly quota (which resets only at midnight, so running into it is costly).
// Pacing is silent while it is short; once a request is held back noticeably,
// the user learns it while it happens (a line at INFO, at most every 10 s) and
// at the end of each operation whose requests waited (restart.go, pacedWarning),
// never once per request.
type pacing struct {
	perHour, burst int64

	mu       sync.Mutex
	total    time.Duration // every request's wait, the instance's life long
	requests int
	lastLog  time.Time
}

// pacedLogEvery spaces the INFO lines while requests are being paced.
const pacedLogEvery = 10 * time.Second

func newPacing(perHour, burst types.Int64) *pacing {
	p := &pacing{perHour: defaultRequestsPerHour, burst: defaultRequestBurst}
	if !perHour.IsNull() && !perHour.IsUnknown() {
		p.perHour = perHour.ValueInt64()
	}
	if !burst.IsNull() && !burst.IsUnknown() {
		p.burst = burst.ValueInt64()
	}
	return p
}

func (p *pacing) limiter() *rate.Limiter {
	return rate.NewLimiter(rate.Limit(float64(p.perHour)/3600), int(p.burst))
}

// paced is the client's OnPaced: it keeps the instance's tally and logs it,
// now and then, at INFO, with why and what to change.
func (p *pacing) paced(ctx context.Context, waited time.Duration) {
	p.mu.Lock()
	p.total += waited
	p.requests++
	total, requests, log := p.total, p.requests, time.Since(p.lastLog) >= pacedLogEvery
	if log {
		p.lastLog = time.Now()
	}
	p.mu.Unlock()
	if log {
		tflog.Info(ctx, "API requests are being paced by the provider's rate limit", map[string]any{
			"waited": waited.Round(time.Millisecond).String(), "requests_paced": requests, "paced_in_all": total.Round(time.Second).String(),
			"api_requests_per_hour": p.perHour, "api_request_burst": p.burst,
			"why": "the API key allows 2000 requests an hour; one resource restarting many nodes costs one request where one resource per node costs one each",
		})
	}
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

// newEngine returns the rollout engine of a provider instance, with its
// coalescing poller on the provider's schedule, both on the client's clock.
// Configure calls it once per instance, with its context (the poller's
// requests take their loggers from it, and belong to no one operation), and
// hands it to every resource and action through providerData.
func newEngine(ctx context.Context, client *ehpc.Client, opts options) *rollout.Engine {
	return &rollout.Engine{
		Client: client,
		Poller: jobwatch.New(client, jobwatch.Options{Schedule: opts.PollSchedule, Clock: client.Clock(), Context: ctx}),
		Clock:  client.Clock(),
	}
}

// newProviderData builds what Configure hands to every resource, data source and
// action: the client, its rate limiter and the job poller when the key pair is
// complete, else the list of what is missing (an error only once an operation
// needs the API).
func (p *HPCProvider) newProviderData(ctx context.Context, s settings, cfg HPCProviderModel, terraformVersion string, diags *diag.Diagnostics) (*providerData, bool) {
	if s.secretKey != "" {
		ctx = tflog.MaskAllFieldValuesStrings(ctx, s.secretKey)
		ctx = tflog.MaskMessageStrings(ctx, s.secretKey)
	}
	tflog.Debug(ctx, "configuring EHPC client", map[string]any{"endpoint": s.endpoint, "zone": s.zone, "access_key_set": s.accessKey != "",
		"secret_key_set": s.secretKey != "", "config_file": s.file.path, "config_file_found": s.file.found})

	data := &providerData{zone: s.zone, opts: p.opts, configFile: s.file.path, configFileFound: s.file.found}
	if s.accessKey == "" {
		data.missing = append(data.missing, "access_key")
	}
	if s.secretKey == "" {
		data.missing = append(data.missing, "secret_key")
	}
	if len(data.missing) > 0 {
		return data, true
	}
	data.pacing = newPacing(cfg.RequestsPerHour, cfg.RequestBurst)
	ccfg := ehpc.Config{
		Limiter:     data.pacing.limiter(),
		OnPaced:     data.pacing.paced,
		Endpoint:    s.endpoint,
		AccessKeyID: s.accessKey,
		SecretKey:   s.secretKey,
		UserAgent:   fmt.Sprintf("terraform-provider-hpc/%s terraform/%s", p.version, terraformVersion),
		Logger:      clientLogger(s.secretKey),
		Warn:        clientWarner(s.secretKey),
		Clock:       p.opts.Clock,
	}
	if p.opts.ClientConfig != nil {
		p.opts.ClientConfig(&ccfg)
	}
	client, err := ehpc.New(ccfg)
	if err != nil {
		diags.AddError("Cannot Create EHPC API Client", "The provider settings are not usable: "+err.Error()+".")
		return nil, false
	}
	data.client = client
	data.engine = newEngine(ctx, client, p.opts)
	return data, true
}
