package ehpc

import (
	"errors"
	"fmt"
	"strings"
)

// API ret_codes the client treats specially (API.md, "Responses and errors").
// Those its callers need are exported; the rest only steer its retries.
const (
	CodeBadParameter     = 1100
	CodeNoSuchAction     = 1101
	CodeAuthFailed       = 1200
	CodeRequestExpired   = 1300
	CodePermissionDenied = 1400
	CodeNotFound         = 2100
	CodeQuotaExceeded    = 2500
	codeInternalError    = 5000
	codeServerBusy       = 5100
	codeServiceUpdating  = 5300
)

// hints say what a caller can do about a ret_code, in the API's terms; the API's
// own messages rarely do. What to do in the program that calls the client is
// that program's to add.
var hints = map[int]string{
	CodeBadParameter:     "A request parameter is missing or malformed: check cluster_id, node_ids and zone.",
	CodeNoSuchAction:     "The endpoint does not know this action: check that the endpoint is the EHPC API (https://hpc-api.qingcloud.com).",
	CodeAuthFailed:       "Check that access_key and secret_key are a valid key pair for this endpoint and that the key is enabled.",
	CodeRequestExpired:   "The API rejects requests signed more than 60 seconds ago: check that this machine's clock is correct (for example with NTP).",
	CodePermissionDenied: "The cluster or node is in a state that forbids this (for example a node that is already restarting): the request can succeed once the running job has finished.",
	CodeNotFound:         "Check cluster_id, node_ids and zone: the API knows no such cluster or node in that zone.",
	CodeQuotaExceeded:    "The API key's quota is used up (2000 requests per hour, or a quota on the account's clusters or nodes); retrying soon does not help: wait for the quota to reset or ask QingCloud to raise it.",
	codeInternalError:    "The API reported an internal error; try again later.",
	codeServerBusy:       "The API is busy; try again later.",
	codeServiceUpdating:  "The API is being updated; try again later.",
}

// Hint returns the advice for a ret_code, or "" when there is none.
func Hint(code int) string { return hints[code] }

// APIError is an answer from the API that reports failure: a ret_code other than 0,
// or an HTTP error status.
type APIError struct {
	RetCode    int    // the API's ret_code; 0 when the failure is only an HTTP status
	Message    string // the API's message, scrubbed of secrets
	Action     string // the response's action field, when given
	HTTPStatus int    // HTTP status of the response
	Path       string // request path, e.g. /api/cluster/restartNodes
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "EHPC API %s failed", e.Path)
	if e.RetCode != 0 {
		fmt.Fprintf(&b, " with ret_code %d", e.RetCode)
	}
	if e.HTTPStatus != 0 && (e.HTTPStatus < 200 || e.HTTPStatus > 299) {
		fmt.Fprintf(&b, " (HTTP %d)", e.HTTPStatus)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if h := Hint(e.RetCode); h != "" {
		b.WriteString(". ")
		b.WriteString(h)
	}
	return b.String()
}

// ResponseError is a response the client could not use: a body that is not JSON, is
// cut short, is too large, or lacks a field the call needs. Excerpt is a short,
// printable, scrubbed prefix of the body so the user can tell an HTML error page
// from a proxy message.
type ResponseError struct {
	Path       string
	HTTPStatus int
	Reason     string
	Excerpt    string
}

func (e *ResponseError) Error() string {
	msg := fmt.Sprintf("EHPC API %s returned an unusable response (HTTP %d): %s", e.Path, e.HTTPStatus, e.Reason)
	if e.Excerpt != "" {
		msg += fmt.Sprintf("; body starts with %q", e.Excerpt)
	}
	return msg
}

// TransportError is a failure to exchange a request and response at all.
type TransportError struct {
	Path string
	// Sent reports whether any part of the request may have reached the server. When
	// false the request provably was not processed (the connection was refused or
	// could not be made), which is the only case where a restart may be resent.
	Sent bool
	Err  error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("EHPC API %s: request failed: %v", e.Path, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// UnknownOutcomeError means a restart request may or may not have been processed:
// the connection broke after the request was written, the response was cut short,
// or the server answered with an error that does not say whether it acted, and
// the operation log has not settled it (yet). Resending could restart the nodes
// twice, so the client never does; Request is what a later Settle needs.
type UnknownOutcomeError struct {
	ClusterID string
	NodeIDs   []string
	// Request is the request whose outcome is unknown, with the window its job
	// is looked for in.
	Request Request
	// Checked reports that the operation log was read and did not settle the
	// question (see Candidates); false when the log could not be read.
	Checked bool
	// Candidates are jobs that match equally well, when there is more than one.
	Candidates []string
	Err        error
}

func (e *UnknownOutcomeError) Error() string {
	sent := "in an earlier apply"
	if !e.Request.SentAt.IsZero() {
		sent = "at " + e.Request.SentAt.UTC().Format(timestampLayout)
	}
	msg := fmt.Sprintf("restart of nodes %s in cluster %s may or may not have been processed (request sent %s): %v",
		strings.Join(e.NodeIDs, ", "), e.ClusterID, sent, e.Err)
	if len(e.Candidates) > 0 {
		msg += fmt.Sprintf("; restart jobs of exactly these nodes that match: %s", strings.Join(e.Candidates, ", "))
	}
	return msg
}

func (e *UnknownOutcomeError) Unwrap() error { return e.Err }

// asUnknown reports whether err is an *UnknownOutcomeError, and sets *u.
func asUnknown(err error, u **UnknownOutcomeError) bool { return errors.As(err, u) }

// Permanent reports whether a failed read will fail the same way if asked again
// soon: a parameter, key, clock, id or quota problem that only the user can fix.
func Permanent(err error) bool {
	var gone *NodesGoneError
	if errors.As(err, &gone) {
		return true
	}
	switch RetCode(err) {
	case CodeBadParameter, CodeNoSuchAction, CodeAuthFailed, CodeRequestExpired, CodeNotFound, CodeQuotaExceeded:
		return true
	}
	return false
}

// RetCode returns the API ret_code carried by err, or 0.
func RetCode(err error) int {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.RetCode
	}
	return 0
}

// RedirectError is a 3xx answer. The API never redirects: something in front of
// it (a proxy, an old host name) answered instead, and the request was not
// processed. Redirects are never followed, since that would carry a signed URL or
// a restart to another place.
type RedirectError struct {
	Path       string
	HTTPStatus int
	// Location is where the answer pointed, without its query (which may hold a
	// signature); empty when the answer named no place.
	Location string
}

func (e *RedirectError) Error() string {
	if e.Location == "" {
		return fmt.Sprintf("EHPC API %s answered HTTP %d (a redirect without a Location); the request was not processed: the endpoint is not the API's address", e.Path, e.HTTPStatus)
	}
	return fmt.Sprintf("EHPC API %s answered HTTP %d, a redirect to %s; the request was not processed and the redirect was not followed: the endpoint is not the API's final address", e.Path, e.HTTPStatus, e.Location)
}

// ConnectError is a failure to reach the API that will not go away by retrying:
// a TLS certificate this machine does not trust or that names another host, a
// server that does not speak TLS, or a host name that does not exist. The request
// was never sent, so nothing was processed.
type ConnectError struct {
	Path string
	Host string
	// Kind is "tls" or "dns".
	Kind string
	Err  error
}

func (e *ConnectError) Error() string {
	switch e.Kind {
	case "dns":
		return fmt.Sprintf("EHPC API %s: host %s does not exist (%v); nothing was sent", e.Path, e.Host, e.Err)
	default:
		return fmt.Sprintf("EHPC API %s: TLS connection to %s failed (%v); nothing was sent", e.Path, e.Host, e.Err)
	}
}

func (e *ConnectError) Unwrap() error { return e.Err }
