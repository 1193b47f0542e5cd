package ehpcsim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault describes a misbehaviour for the next Count requests to a path. The
// point of faults is to let client tests reproduce what real networks and
// gateways do, and in particular to tell apart failures that happened before
// the API acted (safe to retry) from those that happened after (a retry would
// restart nodes twice): AfterEffect selects which.
type Fault struct {
	Count       int           // how many requests it applies to (0 => 1)
	RetCode     int           // answer HTTP 200 with this ret_code and a realistic message
	HTTPStatus  int           // answer this HTTP status (e.g. 502 with an HTML page body, 503/429 with JSON or text)
	RetryAfter  string        // Retry-After header value to send, if any
	Body        string        // raw body to send instead (e.g. "<html>...", or "{\"ret_code\":0, \"job_" truncated)
	Truncate    bool          // send the real (or given) body cut in half, with the full Content-Length, then close
	Delay       time.Duration // sleep before answering (cut short if the client goes away)
	Drop        bool          // close the connection without any response
	AfterEffect bool          // apply the fault after the request has been processed instead of before
	// LateEffect processes the request this long after it arrived, in the
	// background, whatever happens to the connection meanwhile (the client gave
	// up, or the connection was dropped): a lost answer never proves nothing
	// happened. The client gets the normal answer if it is still listening after
	// processing; combined with Drop, the connection is closed at once and the
	// request is still processed LateEffect later.
	//
	// The wait is real time (like Delay); the job's create_time is the
	// simulator's clock when processing happens. Combined with a RetCode,
	// HTTPStatus, Body, Truncate or Delay, those apply to the answer after
	// processing, as with AfterEffect. RequestLog's Note records when the
	// request was processed and its ret_code.
	LateEffect time.Duration
	// Skip lets the first Skip requests this fault would apply to pass
	// untouched before it applies to the next Count: a fault on a later
	// request of a sequence, such as the second batch of a rolling restart
	// (Skip: 1). The fault keeps its place at the head of its queue while it
	// skips, so a skipped request gets no fault at all: not one queued after
	// it for the same path, nor an any-path one.
	Skip int
}

// InjectFault queues f for the next f.Count requests to path (an exact path
// such as "/api/operation"; "" or "*" means any path), after the f.Skip
// requests it lets pass. Faults for the same path apply in the order
// injected; a path-specific fault is used before an any-path one.
func (s *Simulator) InjectFault(path string, f Fault) {
	if path == "" {
		path = "*"
	}
	if f.Count <= 0 {
		f.Count = 1
	}
	f.Skip = max(f.Skip, 0)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[path] = append(s.faults[path], &f)
}

// outage is a span of the simulator's own clock, from inclusive, until
// exclusive.
type outage struct{ from, until time.Time }

// LogOutage makes the operation log fail from `from` (inclusive) until `until`
// (exclusive), on the simulator's own clock (Now + ClockOffset): every request
// to /api/operation arriving then is answered HTTP 502 with the nginx page of
// a failing gateway in front of the API, after the path's Latency like any
// answer. The request never reaches the API: it is not processed, needs no
// signature, is not charged to a quota and takes no queued Fault (one waits
// for the next request that gets through). It is counted and logged like every
// request, with Note "operation log outage".
//
// An outage of the log alone is the case a client must survive: its restart
// went through, and for a while it cannot learn how the job is doing. Several
// outages may be set, overlapping or not; Reset clears them. An empty or
// reversed span panics: it is a mistake in the test's setup.
func (s *Simulator) LogOutage(from, until time.Time) {
	if !until.After(from) {
		panic(fmt.Sprintf("ehpcsim: LogOutage: until %s is not after from %s", until, from))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outages = append(s.outages, outage{from, until})
}

// logDownLocked reports whether a request to path arriving at now (the
// simulator's own clock) meets an operation log outage.
func (s *Simulator) logDownLocked(path string, now time.Time) bool {
	if path != pathOperation {
		return false
	}
	for _, o := range s.outages {
		if !now.Before(o.from) && now.Before(o.until) {
			return true
		}
	}
	return false
}

// ClearFaults drops all queued faults.
func (s *Simulator) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[string][]*Fault{}
}

func (s *Simulator) popFaultLocked(path string) *Fault {
	for _, key := range []string{path, "*"} {
		queue := s.faults[key]
		if len(queue) == 0 {
			continue
		}
		f := queue[0]
		if f.Skip > 0 {
			f.Skip--
			return nil
		}
		f.Count--
		if f.Count == 0 {
			s.faults[key] = queue[1:]
		}
		applied := *f
		return &applied
	}
	return nil
}

// onlyDelays reports whether f changes nothing but timing (and headers).
func (f Fault) onlyDelays() bool {
	return f.RetCode == 0 && f.HTTPStatus == 0 && f.Body == "" && !f.Truncate && !f.Drop
}

// serveFault answers a faulted request. process runs the real request; it is
// called before the fault for AfterEffect, in the background for LateEffect,
// after a pure Delay, and never otherwise, so a fault that is neither
// AfterEffect nor LateEffect provably has no effect. latency is the path's
// Latency, waited before anything is sent.
func (s *Simulator) serveFault(w http.ResponseWriter, r *http.Request, backend int, path string, f Fault, process func() *response, latency time.Duration, processedLate func(*response, time.Duration)) outcome {
	var processed *response
	note := "fault"
	switch {
	case f.LateEffect > 0:
		note = "fault with late effect"
		done := make(chan *response, 1)
		s.late.Add(1)
		go func() {
			defer s.late.Add(-1)
			// Not r.Context(): it ends when the client goes away, and the
			// point is that the effect happens anyway.
			time.Sleep(f.LateEffect)
			resp := process()
			processedLate(resp, f.LateEffect)
			done <- resp
		}()
		if f.Drop {
			return dropConnection(w, fmt.Sprintf("%s: connection dropped at once, processing %s after arrival", note, f.LateEffect))
		}
		select {
		case processed = <-done:
		case <-r.Context().Done():
			return outcome{note: fmt.Sprintf("%s: client went away before processing, which still happens %s after arrival", note, f.LateEffect)}
		}
	case f.AfterEffect:
		processed = process()
		note = "fault after effect"
	}
	if f.Delay > 0 && !sleepCtx(r.Context(), f.Delay) {
		return outcome{note: note + ": client went away during delay"}
	}
	if f.onlyDelays() && processed == nil {
		processed = process()
	}
	if !sleepCtx(r.Context(), latency) {
		return outcome{note: note + ": client went away during latency"}
	}
	if f.onlyDelays() {
		out := s.writeResponse(w, backend, processed, f.RetryAfter)
		out.note = note
		if f.Delay > 0 {
			out.note = fmt.Sprintf("%s: delayed %s", note, f.Delay)
		}
		return out
	}
	if f.Drop {
		return dropConnection(w, note+": connection dropped")
	}

	action := routes[path].action
	resp := processed
	switch {
	case f.RetCode != 0:
		resp = errorResponse(action, f.RetCode, faultMessage(f.RetCode))
		if f.HTTPStatus != 0 {
			resp.status = f.HTTPStatus
		}
	case f.HTTPStatus != 0:
		resp = statusPage(f.HTTPStatus)
	case resp == nil:
		// Truncate or Body before effect: there is no processed answer, so cut a
		// plausible one that refers to nothing that exists.
		resp = s.plausibleResponse(path, action)
	}
	if f.Body != "" {
		resp = &response{status: resp.status, contentType: sniffContentType(f.Body), body: []byte(f.Body), retCode: retCodeOf([]byte(f.Body))}
	}
	if f.Truncate {
		return s.writeTruncated(w, backend, resp, f.RetryAfter, note+": truncated")
	}
	out := s.writeResponse(w, backend, resp, f.RetryAfter)
	out.note = note
	return out
}

// sleepCtx waits d unless ctx ends first; it reports whether it waited d.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// faultMessage gives injected ret_codes the kind of message the real API
// sends, so client error rendering is tested on realistic text.
func faultMessage(code int) string {
	switch code {
	case 1100:
		return "InvalidParameter, simulated invalid parameter"
	case 1101:
		return "InvalidAction, no such action"
	case 1200:
		return "AuthenticationFailed, signature not matched"
	case 1300:
		return "RequestExpired, timestamp is older than 60 seconds"
	case 1400:
		return "PermissionDenied, resource is in a state that forbids this operation"
	case 2100:
		return "ResourceNotFound, resource not found"
	case 2500:
		return "QuotaExceeded, api request quota exceeded, try again after the quota resets"
	case 5000:
		return "InternalError, an internal error occurred, please try again later"
	case 5100:
		return "ServerBusy, the server is too busy, please try again later"
	case 5300:
		return "ServiceUpdating, the service is updating, please try again later"
	default:
		return fmt.Sprintf("Error, simulated error %d", code)
	}
}

// statusPage imitates what sits in front of the API: gateways answer 5xx with
// HTML, the API itself answers 503 with JSON, rate limiters answer 429 in
// plain text.
func statusPage(status int) *response {
	text := http.StatusText(status)
	if text == "" {
		text = "Status " + strconv.Itoa(status)
	}
	switch {
	case status == http.StatusServiceUnavailable:
		resp := errorResponse("", 5100, faultMessage(5100))
		resp.status = status
		return resp
	case status >= 500:
		page := fmt.Sprintf("<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", status, text, status, text)
		return &response{status: status, contentType: "text/html", body: []byte(page)}
	default:
		return &response{status: status, contentType: "text/plain; charset=utf-8", body: []byte(fmt.Sprintf("%d %s\n", status, text))}
	}
}

func (s *Simulator) plausibleResponse(path, action string) *response {
	switch path {
	case pathRestart, pathRestartTypo:
		return jsonResponse(restartResponse{Action: action, JobID: "j-0000000000", RetCode: 0}, 0)
	case pathOperation:
		return jsonResponse(operationResponse{Action: action, listTotal: s.listTotal(0), JobSet: []operationJob{}}, 0)
	case pathListNodes:
		return jsonResponse(listNodesResponse{Action: action, listTotal: s.listTotal(0), NodeSet: []nodeView{}}, 0)
	default:
		return jsonResponse(errorBody{RetCode: 0, Message: ""}, 0)
	}
}

func sniffContentType(body string) string {
	if strings.HasPrefix(strings.TrimSpace(body), "<") {
		return "text/html"
	}
	return "application/json"
}

func retCodeOf(body []byte) int {
	var v struct {
		RetCode int `json:"ret_code"`
	}
	if json.Unmarshal(body, &v) != nil {
		return 0
	}
	return v.RetCode
}

// dropConnection closes the connection without a byte of response, as a
// crashed gateway would. Hijacking gives a clean close on HTTP/1; where that
// is impossible (HTTP/2), aborting the handler has the same effect for the
// client.
func dropConnection(w http.ResponseWriter, note string) outcome {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return outcome{note: note}
		}
	}
	return outcome{note: note, abort: true}
}

// writeTruncated promises the full body in Content-Length, sends half and
// closes, so the client's read fails with an unexpected EOF rather than
// seeing a short but apparently complete body.
func (s *Simulator) writeTruncated(w http.ResponseWriter, backend int, resp *response, retryAfter, note string) outcome {
	half := resp.body[:len(resp.body)/2]
	out := outcome{status: resp.status, retCode: resp.retCode, note: note}
	if hj, ok := w.(http.Hijacker); ok {
		if conn, brw, err := hj.Hijack(); err == nil {
			defer conn.Close()
			fmt.Fprintf(brw, "HTTP/1.1 %d %s\r\n", resp.status, http.StatusText(resp.status))
			fmt.Fprintf(brw, "Content-Type: %s\r\n", resp.contentType)
			fmt.Fprintf(brw, "Content-Length: %d\r\n", len(resp.body))
			if retryAfter != "" {
				fmt.Fprintf(brw, "Retry-After: %s\r\n", retryAfter)
			}
			fmt.Fprintf(brw, "Date: %s\r\nConnection: close\r\n\r\n", s.httpDate(backend))
			_, _ = brw.Write(half)
			_ = brw.Flush()
			return out
		}
	}
	h := w.Header()
	h.Set("Date", s.httpDate(backend))
	h.Set("Content-Type", resp.contentType)
	h.Set("Content-Length", strconv.Itoa(len(resp.body)))
	if retryAfter != "" {
		h.Set("Retry-After", retryAfter)
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write(half)
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	out.abort = true
	return out
}
