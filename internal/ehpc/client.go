// Package ehpc is a client for the QingCloud EHPC API: request signing, transport
// with bounded retries, typed errors, and the calls the provider needs (restart
// nodes, read the operation log, list nodes). It knows nothing about Terraform.
package ehpc

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"time"
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

	// SettleWindow is how long RestartNodesOnce watches the operation log for the
	// job of a request whose outcome is unknown before sending it again.
	SettleWindow time.Duration

	Limiter Limiter
	Logger  Logger
	// Now is the clock for request timestamps; tests inject skew through it.
	Now func() time.Time
	// Jitter returns a value in [0,1) to spread retries; tests make it fixed.
	Jitter func() float64
}

// Client talks to one EHPC API endpoint with one key pair. It is safe for
// concurrent use.
type Client struct {
	cfg      Config
	base     *url.URL
	scrubber scrubber

	// clock bounds the server's clock against ours from the Date headers seen;
	// reconciliation uses it to bound which jobs a lost request could have made.
	clock offsetBound
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
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = defaultRequestTimeout
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = defaultMaxAttempts
	}
	if cfg.RetryBaseDelay <= 0 {
		cfg.RetryBaseDelay = defaultRetryBaseDelay
	}
	if cfg.RetryMaxDelay <= 0 {
		cfg.RetryMaxDelay = defaultRetryMaxDelay
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = defaultMaxBodyBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Jitter == nil {
		cfg.Jitter = defaultJitter
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "ehpc-go-client"
	}
	return &Client{cfg: cfg, base: base, scrubber: scrubber{secret: cfg.SecretKey}}, nil
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

// do sends req, retrying as its safety allows, and decodes a successful body into out.
func (c *Client) do(ctx context.Context, req request, out any) error {
	var last attemptResult
	for attempt := 1; ; attempt++ {
		last = c.attempt(ctx, req, attempt, out)
		if last.err == nil || !last.retryable || attempt >= c.cfg.MaxAttempts {
			return last.err
		}
		delay := c.backoff(attempt, last.retryAfter)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			// Waiting would outlast the caller's deadline: report the real failure
			// now rather than a bare "context deadline exceeded" later.
			return last.err
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%w (gave up retrying: %v)", last.err, ctx.Err())
		case <-timer.C:
		}
	}
}

// attempt signs and sends req once.
func (c *Client) attempt(ctx context.Context, req request, attempt int, out any) attemptResult {
	if c.cfg.Limiter != nil {
		if err := c.cfg.Limiter.Wait(ctx); err != nil {
			return attemptResult{err: fmt.Errorf("EHPC API %s: waiting for the client's rate limiter: %w", req.path, err)}
		}
	}

	target, sig, err := c.signURL(req)
	if err != nil {
		return attemptResult{err: err}
	}
	// A server may echo this attempt's signature without its parameter name
	// ("signature [...] not matched"); the scrubber for this attempt knows it.
	sc := c.scrubber.withSignature(sig)

	actx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()

	// wrote tells a request that never left this machine from one that might have
	// reached the server: only the former can be resent without risk.
	var wrote, connected bool
	trace := &httptrace.ClientTrace{
		GotConn:      func(httptrace.GotConnInfo) { connected = true },
		WroteHeaders: func() { wrote = true },
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote = true },
	}
	actx = httptrace.WithClientTrace(actx, trace)

	hreq, err := c.newHTTPRequest(actx, req, target)
	if err != nil {
		return attemptResult{err: fmt.Errorf("EHPC API %s: building request: %w", req.path, sc.scrubErr(err))}
	}

	start := time.Now()
	resp, err := c.cfg.HTTPClient.Do(hreq)
	if err != nil {
		sent := wrote || (connected && !isDialError(err))
		return c.exchangeFailed(ctx, sc, req, attempt, start, sent, err)
	}
	defer resp.Body.Close()
	return c.answered(ctx, sc, req, attempt, start, resp, out)
}

// newHTTPRequest builds the HTTP request for req at its signed target.
func (c *Client) newHTTPRequest(ctx context.Context, req request, target string) (*http.Request, error) {
	var bodyReader io.Reader
	if req.body != nil {
		bodyReader = bytes.NewReader(req.body)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.method, target, bodyReader)
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("User-Agent", c.cfg.UserAgent)
	hreq.Header.Set("Accept", "application/json")
	if req.body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	return hreq, nil
}

// exchangeFailed classifies an attempt that got no answer at all; sent reports
// whether any of the request may have reached the server.
func (c *Client) exchangeFailed(ctx context.Context, sc scrubber, req request, attempt int, start time.Time, sent bool, err error) attemptResult {
	if perm := permanentTransport(req.path, c.base.Host, err); perm != nil {
		// A certificate the client rejects, or a host that does not exist,
		// fails the same way on every attempt: say what to fix at once.
		c.log(ctx, sc, req, attempt, start, 0, 0, perm)
		return attemptResult{err: perm}
	}
	terr := &TransportError{Path: req.path, Sent: sent, Err: sc.scrubErr(err)}
	c.log(ctx, sc, req, attempt, start, 0, 0, terr)
	// A read may always be repeated; a write only if it never left this machine.
	return attemptResult{err: terr, retryable: ctx.Err() == nil && (req.safe || !sent)}
}

// answered reads and interprets the answer to an attempt.
func (c *Client) answered(ctx context.Context, sc scrubber, req request, attempt int, start time.Time, resp *http.Response, out any) attemptResult {
	// The answer's headers are in: the server wrote its Date before this moment.
	c.clock.observe(resp.Header.Get("Date"), c.cfg.Now())
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		// A redirect is an answer from something in front of the API, which did
		// not act on the request; following it would carry a signed URL (or
		// resend a restart) to another place.
		rerr := &RedirectError{Path: req.path, HTTPStatus: resp.StatusCode, Location: redirectTarget(resp)}
		c.log(ctx, sc, req, attempt, start, resp.StatusCode, 0, rerr)
		return attemptResult{status: resp.StatusCode, err: rerr}
	}

	body, readErr := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBodyBytes+1))
	res := attemptResult{status: resp.StatusCode, body: body, retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	switch {
	case readErr != nil:
		res.err = &ResponseError{Path: req.path, HTTPStatus: resp.StatusCode, Reason: "the body was cut short (" + sc.scrubErr(readErr).Error() + ")", Excerpt: sc.excerpt(body)}
		res.retryable = req.safe
	case int64(len(body)) > c.cfg.MaxBodyBytes:
		// excerpt scrubs the whole body before cutting it; slicing here first could
		// read past len(body) (garbage when MaxBodyBytes is small) or cut a secret
		// in half so that the scrubber no longer recognises it.
		res.err = &ResponseError{Path: req.path, HTTPStatus: resp.StatusCode, Reason: fmt.Sprintf("the body is larger than %d bytes", c.cfg.MaxBodyBytes), Excerpt: sc.excerpt(body)}
	default:
		res.err, res.retryable = c.decode(sc, req, resp.StatusCode, body, out)
	}
	retCode := 0
	var apiErr *APIError
	if errors.As(res.err, &apiErr) {
		retCode = apiErr.RetCode
	}
	c.log(ctx, sc, req, attempt, start, resp.StatusCode, retCode, res.err)
	return res
}

// decode interprets a complete response body. It reports whether a failure may be
// retried given the request's safety.
func (c *Client) decode(sc scrubber, req request, status int, body []byte, out any) (error, bool) {
	var env envelope
	jsonErr := json.Unmarshal(body, &env)
	if jsonErr != nil {
		reason := "the body is not JSON"
		if len(bytes.TrimSpace(body)) == 0 {
			reason = "the body is empty"
		} else if json.Valid(body) {
			reason = "the body is not a JSON object"
		}
		err := &ResponseError{Path: req.path, HTTPStatus: status, Reason: reason, Excerpt: sc.excerpt(body)}
		switch status {
		case http.StatusNotFound:
			return &APIError{Path: req.path, HTTPStatus: status, Message: err.Reason + ": " + err.Excerpt}, false
		case http.StatusTooManyRequests:
			// Turned away before any processing: see retryableFailure.
			return &APIError{Path: req.path, HTTPStatus: status, Message: "too many requests: " + err.Excerpt}, true
		}
		// An HTML page from a gateway in front of the API says nothing about whether
		// the API acted; reads retry, writes do not.
		return err, req.safe && (status >= 500 || status == http.StatusTooManyRequests)
	}

	code := 0
	if env.RetCode != nil {
		code = int(*env.RetCode)
	}
	if status < 200 || status > 299 || code != 0 {
		apiErr := &APIError{RetCode: code, Message: sc.scrub(strings.TrimSpace(env.Message)), Action: env.Action, HTTPStatus: status, Path: req.path}
		if apiErr.Message == "" && code == 0 {
			apiErr.Message = http.StatusText(status)
		}
		return apiErr, c.retryableFailure(req, status, code)
	}
	// A 2xx object without ret_code is taken as success: API.md promises the field,
	// but each call still checks for the fields it needs (a restart needs job_id).
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return &ResponseError{Path: req.path, HTTPStatus: status, Reason: "the JSON does not have the documented shape (" + err.Error() + ")", Excerpt: sc.excerpt(body)}, false
		}
	}
	return nil, false
}

// retryableFailure decides whether an API-level failure may be sent again.
func (c *Client) retryableFailure(req request, status, code int) bool {
	switch code {
	case codeServerBusy, codeServiceUpdating:
		// The API says it did not take the request: safe to resend, even a write.
		return true
	case codeInternalError:
		return req.safe
	case 0:
		// 429 means the request was turned away before it was acted on, so even a
		// write may be sent again once the server's Retry-After has passed.
		return status == http.StatusTooManyRequests || (req.safe && status >= 500)
	}
	return false
}

func (c *Client) log(ctx context.Context, sc scrubber, req request, attempt int, start time.Time, status, retCode int, err error) {
	if c.cfg.Logger == nil {
		return
	}
	fields := map[string]any{
		"method":      req.method,
		"path":        req.path,
		"attempt":     attempt,
		"duration_ms": time.Since(start).Milliseconds(),
	}
	if status != 0 {
		fields["http_status"] = status
	}
	if retCode != 0 {
		fields["ret_code"] = retCode
	}
	if err != nil {
		fields["error"] = sc.scrub(err.Error())
	}
	c.cfg.Logger(ctx, "EHPC API request", fields)
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

// parseRetryAfter reads a Retry-After header: delta seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return min(time.Duration(secs)*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter)
	}
	return 0
}
