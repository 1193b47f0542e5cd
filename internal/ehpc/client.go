// Package ehpc is a client for the QingCloud EHPC API: request signing, transport
// with bounded retries, typed errors, and the calls the provider needs (restart
// nodes, read the operation log, list nodes). It knows nothing about Terraform.
package ehpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/qingcloud/terraform-provider-hpc/internal/clock"
)

// DefaultEndpoint is the public EHPC API.
const DefaultEndpoint = "https://hpc-api.qingcloud.com"

// Defaults for Config fields left zero.
const (
	defaultRequestTimeout = 30 * time.Second
	defaultMaxAttempts    = 5
	defaultRetryBaseDelay = 500 * time.Millisecond
	defaultRetryMaxDelay  = 15 * time.Second
	defaultMaxBodyBytes   = 4 << 20
)

// maxRetryAfter caps a server's Retry-After so a hostile or confused proxy cannot
// park a call for hours; the caller's context still bounds the total.
const maxRetryAfter = 2 * time.Minute

// Logger receives one structured line per HTTP attempt. Fields never hold the
// secret key, the signature or the query string.
type Logger func(ctx context.Context, msg string, fields map[string]any)

// Limiter paces requests (for example a token bucket shared by a provider
// instance). Wait blocks until a request may be sent or ctx ends.
type Limiter interface {
	Wait(ctx context.Context) error
}

// Config holds what a Client needs. Endpoint, AccessKeyID and SecretKey are required.
type Config struct {
	Endpoint    string
	AccessKeyID string
	SecretKey   string
	UserAgent   string
	HTTPClient  *http.Client

	// RequestTimeout bounds one HTTP attempt, not a whole call with its retries.
	RequestTimeout time.Duration
	// MaxAttempts bounds how many times one call is sent (first try included).
	MaxAttempts    int
	RetryBaseDelay time.Duration
	RetryMaxDelay  time.Duration
	MaxBodyBytes   int64

	// What settling a lost answer relies on (see Settle); zero means the
	// documented value. RequestValidity is how old a request's timestamp may be
	// when the API processes it (60 s); LogLag is how long a job may take to
	// appear in the operation log (6 s); ClockMargin is how far the window a
	// lost request's job is looked for in reaches past what the clocks say
	// (25 s: one of the API's machines 10 s off, this machine's clock stepping
	// 10 s, and the second the wire rounds to). Tests shorten them together
	// with the simulator's TimestampValidity. LogLag is a floor: a longer lag
	// measured on the client's own jobs widens it (loglag.go).
	RequestValidity time.Duration
	LogLag          time.Duration
	ClockMargin     time.Duration

	Limiter Limiter
	// OnPaced, if set, hears of every request the Limiter held back
	// noticeably, with how long (the caller says so while it happens).
	OnPaced func(ctx context.Context, waited time.Duration)
	Logger  Logger
	// Warn, if set, receives the few lines that are warnings rather than
	// per-request detail: an assumption the client found the API breaking
	// (a log that lags longer than LogLag, see LogLag.String). Fields never
	// hold the secret key or a signature.
	Warn Logger
	// Clock is the client's one time source: request timestamps, when answers
	// arrived, and every wait (retries, settling). nil means the wall clock.
	Clock clock.Clock
	// Jitter returns a value in [0,1) to spread retries; tests make it fixed.
	Jitter func() float64
}

// Client talks to one EHPC API endpoint with one key pair. It is safe for
// concurrent use.
type Client struct {
	cfg      Config
	base     *url.URL
	scrubber scrubber

	// offset bounds the server's clock against ours from the Date headers
	// seen; settling uses it to bound which jobs a lost request could have made.
	offset offsetBound
	// seen remembers which jobs earlier listings showed, so a job listed
	// before a request was sent is never taken for that request's.
	seen seenJobs
	// mine are the jobs this client's own requests made: from their answers,
	// or found for them by a settle. Every resource, data source and action of
	// a provider instance shares its client, so a lost answer of one restart
	// never takes a job another restart of the same nodes made in its window.
	mine ownJobs
	// lag measures how long the log takes to show the jobs of mine whose
	// answers arrived; settling allows for the longest (loglag.go).
	lag lagMeter
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	base, err := url.Parse(strings.TrimRight(cfg.Endpoint, "/"))
	if err != nil || base.Host == "" || (base.Scheme != "https" && base.Scheme != "http") {
		return nil, fmt.Errorf("endpoint %q is not an http(s) URL with a host", cfg.Endpoint)
	}
	if base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("endpoint %q must not carry a query or fragment", cfg.Endpoint)
	}
	if cfg.AccessKeyID == "" || cfg.SecretKey == "" {
		return nil, errors.New("access key id and secret key are required")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{
			Transport: defaultTransport(),
			// A redirect would carry a signed URL to another host, and a 307 would
			// resend the restart there; the API never redirects, so report it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	cfg.RequestTimeout = positive(cfg.RequestTimeout, defaultRequestTimeout)
	cfg.MaxAttempts = positive(cfg.MaxAttempts, defaultMaxAttempts)
	cfg.RetryBaseDelay = positive(cfg.RetryBaseDelay, defaultRetryBaseDelay)
	cfg.RetryMaxDelay = positive(cfg.RetryMaxDelay, defaultRetryMaxDelay)
	cfg.MaxBodyBytes = positive(cfg.MaxBodyBytes, defaultMaxBodyBytes)
	cfg.RequestValidity = positive(cfg.RequestValidity, defaultRequestValidity)
	cfg.LogLag = positive(cfg.LogLag, defaultLogLag)
	cfg.ClockMargin = positive(cfg.ClockMargin, defaultClockMargin)
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Jitter == nil {
		cfg.Jitter = defaultJitter
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "ehpc-go-client"
	}
	return &Client{cfg: cfg, base: base, scrubber: scrubber{secret: cfg.SecretKey}}, nil
}

// positive is v, or def when v is not positive (a Config field left zero).
func positive[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// defaultTransport is http.DefaultTransport's settings with its own connection pool,
// so one provider's idle connections are not shared with anything else in-process.
func defaultTransport() *http.Transport {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	t = t.Clone()
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	t.MaxIdleConnsPerHost = 16
	return t
}

// Clock is the client's time source, for callers that must share it (the
// rollout engine and its poller measure against the same clock).
func (c *Client) Clock() clock.Clock { return c.cfg.Clock }

// ClockMargin is how far the client lets a server's clock, and its own, be
// off when it bounds a job's create_time (Config.ClockMargin).
func (c *Client) ClockMargin() time.Duration { return c.cfg.ClockMargin }

// Endpoint returns the base URL the client talks to.
func (c *Client) Endpoint() string { return c.base.String() }

// Scrub removes the client's secret and any signature from text, for callers that
// put API-derived text into their own messages.
func (c *Client) Scrub(text string) string { return c.scrubber.scrub(text) }

// request is one API call before signing.
type request struct {
	method string
	path   string // e.g. /api/operation
	zone   string // required: the API has no default zone
	params url.Values
	body   []byte
	// safe marks calls that may be repeated freely (reads). A call that is not safe
	// is only repeated when the server provably did not act on it.
	safe bool
	// sent, if set, records the attempts' timestamps: a restart whose answer
	// is lost needs them to bound where its job can be.
	sent *sendTimes
}

// sendTimes are when a call's first attempt was sent (this machine's clock, as
// read), the signed timestamp of its last, and the client's event count when
// the first was sent.
type sendTimes struct {
	first, last time.Time
	seq         uint64
}

// envelope is the part every response shares.
type envelope struct {
	Action  string   `json:"action"`
	RetCode *flexInt `json:"ret_code"`
	Message string   `json:"message"`
}

// attemptResult is what one HTTP attempt produced.
type attemptResult struct {
	status     int
	body       []byte
	retryAfter time.Duration
	err        error
	// retryable: the same request may be sent again (freshly signed).
	retryable bool
}

// isDialError reports whether err happened while opening the connection, before
// any byte of the request could be written.
func isDialError(err error) bool {
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr.Op == "dial"
	}
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr)
}
