package ehpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"time"
)

func defaultJitter() float64 { return rand.Float64() } //nolint:gosec // jitter needs spread, not secrecy.

// do sends req, retrying as its safety allows, and decodes a successful body into
// out. Every retry is signed afresh, and waits on the client's clock.
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
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up retrying: %v)", last.err, ctx.Err())
		case <-c.cfg.Clock.After(delay):
		}
	}
}

// attempt signs and sends req once.
func (c *Client) attempt(ctx context.Context, req request, attempt int, out any) attemptResult {
	if c.cfg.Limiter != nil {
		start := c.cfg.Clock.Now()
		err := c.cfg.Limiter.Wait(ctx)
		c.paced(ctx, c.cfg.Clock.Now().Sub(start))
		if err != nil {
			return attemptResult{err: fmt.Errorf("EHPC API %s: waiting for the client's rate limiter: %w", req.path, err)}
		}
	}

	now := c.cfg.Clock.Now()
	stamp := now.UTC().Truncate(time.Second)
	if req.sent != nil {
		if req.sent.first.IsZero() {
			req.sent.first, req.sent.seq = now, c.seen.tick()
		}
		req.sent.last = stamp
	}
	target, sig, err := c.signURL(req, stamp)
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

	start := c.cfg.Clock.Now()
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
	arrived := c.cfg.Clock.Now()
	c.offset.observe(resp.Header.Get("Date"), arrived)
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		// A redirect is an answer from something in front of the API, which did
		// not act on the request; following it would carry a signed URL (or
		// resend a restart) to another place.
		rerr := &RedirectError{Path: req.path, HTTPStatus: resp.StatusCode, Location: redirectTarget(resp)}
		c.log(ctx, sc, req, attempt, start, resp.StatusCode, 0, rerr)
		return attemptResult{status: resp.StatusCode, err: rerr}
	}

	body, readErr := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBodyBytes+1))
	res := attemptResult{status: resp.StatusCode, body: body, retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), arrived)}
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
		// A listing without its list is unreadable, never empty: read as
		// "no job", it would send a restart again.
		if l, ok := out.(listing); ok && !l.listed() {
			return &ResponseError{Path: req.path, HTTPStatus: status, Reason: "the answer has no " + l.listField() + " list", Excerpt: sc.excerpt(body)}, req.safe
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

// backoff returns how long to wait before attempt+1: exponential from the base delay,
// capped, with "equal jitter" (half fixed, half random) so many clients that failed
// together do not retry together, while each still waits a useful minimum. A
// Retry-After from the server wins when it asks for longer.
func (c *Client) backoff(attempt int, retryAfter time.Duration) time.Duration {
	d := c.cfg.RetryBaseDelay
	for i := 1; i < attempt && d < c.cfg.RetryMaxDelay; i++ {
		d *= 2
	}
	d = min(d, c.cfg.RetryMaxDelay)
	d = d/2 + time.Duration(c.cfg.Jitter()*float64(d/2))
	return max(d, retryAfter)
}

// log writes one line per attempt to the Logger: never the secret, a
// signature or the query string.
func (c *Client) log(ctx context.Context, sc scrubber, req request, attempt int, start time.Time, status, retCode int, err error) {
	if c.cfg.Logger == nil {
		return
	}
	fields := map[string]any{
		"method":      req.method,
		"path":        req.path,
		"attempt":     attempt,
		"duration_ms": c.cfg.Clock.Now().Sub(start).Milliseconds(),
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

// pacedNoticeable is the least wait for the Limiter that counts as pacing:
// shorter waits are the limiter smoothing a burst, not holding it back.
const pacedNoticeable = 250 * time.Millisecond

// Pacing is how long the Limiter held the requests of one operation back
// (WithPacing): the caller tells its user when that was noticeable.
type Pacing struct {
	mu       sync.Mutex
	total    time.Duration
	requests int
}

type pacingKey struct{}

// WithPacing returns ctx with a new Pacing, which every request made under it
// adds its noticeable waits for the Limiter to.
func WithPacing(ctx context.Context) (context.Context, *Pacing) {
	p := &Pacing{}
	return context.WithValue(ctx, pacingKey{}, p), p
}

// Waited is how long the requests were held back in all, and how many were.
func (p *Pacing) Waited() (time.Duration, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total, p.requests
}

// paced records a wait for the Limiter: in the operation's Pacing, and to
// Config.OnPaced, when it is noticeable.
func (c *Client) paced(ctx context.Context, waited time.Duration) {
	if waited < pacedNoticeable {
		return
	}
	if p, ok := ctx.Value(pacingKey{}).(*Pacing); ok {
		p.mu.Lock()
		p.total += waited
		p.requests++
		p.mu.Unlock()
	}
	if c.cfg.OnPaced != nil {
		c.cfg.OnPaced(ctx, waited)
	}
}
