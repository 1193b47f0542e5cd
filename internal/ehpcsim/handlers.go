package ehpcsim

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	pathRestart      = "/api/cluster/restartNodes"
	pathRestartTypo  = "/api/cluster/resatrtNodes" // the seed page's spelling; API.md tells clients to fall back to it
	pathOperation    = "/api/operation"
	pathListNodes    = "/api/cluster/listNodes"
	actionRestart    = "HpcClusterRestartClusterNodesResponse"
	actionOperation  = "HpcOperationListOperationResponse"
	actionListNodes  = "HpcClusterGetClusterNodesResponse"
	maxBodyBytes     = 1 << 20
	defaultPageLimit = 10
	maxPageLimit     = 100
)

// reqCtx is what an action handler gets: a request that has already been
// authenticated, with the simulator's lock held.
type reqCtx struct {
	path  string
	query url.Values
	body  []byte
	auth  authInfo
	now   time.Time // the simulator's own clock: job progress, node status, quotas, the log's lag
	at    arrival
	stamp time.Time // the serving backend's clock, for what it writes on a job it creates
}

// arrival places a request: its index in the request log (valid while the
// log generation is gen) and the backend that serves it.
type arrival struct {
	idx, gen int
	backend  int
}

type route struct {
	method string
	action string
	handle func(s *Simulator, c *reqCtx) (any, *apiError)
}

var routes = map[string]route{
	pathRestart:     {http.MethodPost, actionRestart, (*Simulator).restartNodes},
	pathRestartTypo: {http.MethodPost, actionRestart, (*Simulator).restartNodes},
	pathOperation:   {http.MethodGet, actionOperation, (*Simulator).listOperations},
	pathListNodes:   {http.MethodGet, actionListNodes, (*Simulator).listNodes},
}

// response is a fully rendered answer. Handlers produce one instead of writing
// to the ResponseWriter so that faults can replace, delay or mangle it after
// the request has had its effect.
type response struct {
	status      int
	contentType string
	allow       string
	body        []byte
	retCode     int
}

// outcome is what was actually sent, for the request log and the log line.
type outcome struct {
	status  int
	retCode int
	note    string
	abort   bool // the connection must be aborted with http.ErrAbortHandler
}

// ServeHTTP answers one API request. Every request is counted and logged
// before anything can fail, so tests can assert on requests that were
// rejected, faulted or dropped.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	body, bodyErr := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if bodyErr == nil && len(body) > maxBodyBytes {
		bodyErr = fmt.Errorf("request body is larger than %d bytes", maxBodyBytes)
	}
	pairs, queryErr := parseRawQuery(r.URL.RawQuery)
	path := r.URL.Path

	// method and escapedPath are copied because a LateEffect processes the
	// request after the handler has returned.
	method, escapedPath := r.Method, r.URL.EscapedPath()
	at, fault, down := s.receive(method, path, pairs, body)
	idx, gen := at.idx, at.gen
	process := func() *response {
		resp, sts := s.process(at, method, escapedPath, path, pairs, queryErr, body, bodyErr)
		s.mu.Lock()
		if s.logGeneration == gen {
			s.log[idx].StringToSign = sts
		}
		s.mu.Unlock()
		return resp
	}
	processedLate := func(resp *response, after time.Duration) {
		note := fmt.Sprintf("processed %s after arrival: ret_code=%d", after, resp.retCode)
		s.mu.Lock()
		s.addNoteLocked(idx, gen, note)
		logf := s.logf
		s.mu.Unlock()
		if logf != nil {
			logf("late effect: %s %s %s", method, path, note)
		}
	}
	latency := s.latencyFor(path)

	var out outcome
	switch {
	case down:
		const note = "operation log outage"
		if sleepCtx(r.Context(), latency) {
			out = s.writeResponse(w, at.backend, statusPage(http.StatusBadGateway), "")
			out.note = note
		} else {
			out = outcome{note: note + ": client went away during latency"}
		}
	case fault == nil:
		// Processing comes first and the latency after it: the effect (and a
		// job's create_time) is at arrival, however late the answer.
		resp := process()
		if sleepCtx(r.Context(), latency) {
			out = s.writeResponse(w, at.backend, resp, "")
		} else {
			out = outcome{note: "client went away during latency, after processing"}
		}
	default:
		out = s.serveFault(w, r, at.backend, path, *fault, process, latency, processedLate)
	}

	s.mu.Lock()
	if s.logGeneration == gen {
		s.log[idx].RetCode = out.retCode
		s.log[idx].HTTPStatus = out.status
		s.addNoteLocked(idx, gen, out.note)
	}
	logf := s.logf
	s.mu.Unlock()
	if logf != nil {
		note := ""
		if out.note != "" {
			note = " (" + out.note + ")"
		}
		logf("%s %s ret_code=%d http=%d %s%s", method, path, out.retCode, out.status, time.Since(start).Round(time.Microsecond), note)
	}
	if out.abort {
		panic(http.ErrAbortHandler)
	}
}

// addNoteLocked adds to the request log entry's Note. The handler and a late
// effect both write to it, in either order, so notes are joined, not replaced.
func (s *Simulator) addNoteLocked(idx, gen int, note string) {
	if note == "" || s.logGeneration != gen {
		return
	}
	if r := &s.log[idx]; r.Note == "" {
		r.Note = note
	} else {
		r.Note += "; " + note
	}
}

// latencyFor is the Latency of path: its own entry if it has one (even 0),
// else the "*" entry.
func (s *Simulator) latencyFor(path string) time.Duration {
	if d, ok := s.latency[path]; ok {
		return d
	}
	return s.latency["*"]
}

// receive counts and records the request, picks its backend and takes the
// fault, if any, that applies to it, all under one lock so concurrent
// requests consume faults and backends in arrival order. down says that the
// request meets an operation log outage, and then it takes no fault: the
// fault is for a request that reaches the API.
func (s *Simulator) receive(method, path string, pairs []queryPair, body []byte) (at arrival, f *Fault, down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	at = arrival{idx: s.total, gen: s.logGeneration, backend: s.backendOf(s.total)}
	s.total++
	s.requests[path]++
	s.log = append(s.log, Request{
		Method:  method,
		Path:    path,
		Query:   valuesOf(pairs),
		Body:    append([]byte(nil), body...),
		Time:    now,
		Backend: at.backend,
	})
	if s.logDownLocked(path, now) {
		return at, nil, true
	}
	return at, s.popFaultLocked(path), false
}

// process routes, authenticates and runs the action. It returns the string
// to sign it computed (for RequestLog), if it got that far.
func (s *Simulator) process(at arrival, method, escapedPath, path string, pairs []queryPair, queryErr error, body []byte, bodyErr error) (*response, string) {
	rt, ok := routes[path]
	if !ok {
		resp := errorResponse("", 1101, fmt.Sprintf("InvalidAction, no such action [%s]", path))
		resp.status = http.StatusNotFound
		return resp, ""
	}
	if method != rt.method {
		resp := errorResponse(rt.action, 1101, fmt.Sprintf("InvalidAction, no such action [%s %s], use %s", method, path, rt.method))
		resp.status = http.StatusMethodNotAllowed
		resp.allow = rt.method
		return resp, ""
	}
	if queryErr != nil {
		return errorResponse(rt.action, 1100, "InvalidParameter, "+queryErr.Error()), ""
	}
	if bodyErr != nil {
		return errorResponse(rt.action, 1100, "InvalidParameter, cannot read request body: "+bodyErr.Error()), ""
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	// One reading of the clock, so the backend's stamp and the shared state
	// describe the same instant.
	now := s.now()
	stamp := now.Add(s.backendOffset(at.backend))
	if s.logGeneration != at.gen {
		at.idx = -1 // Reset cleared the log this request was in
	}
	info, aerr := s.authenticate(method, escapedPath, pairs, body, stamp)
	if aerr != nil {
		return errorResponse(rt.action, aerr.code, aerr.msg), info.stringToSign
	}
	if aerr := s.chargeQuotaLocked(info.accessKey, now); aerr != nil {
		return errorResponse(rt.action, aerr.code, aerr.msg), info.stringToSign
	}
	result, aerr := rt.handle(s, &reqCtx{path: path, query: valuesOf(pairs), body: body, auth: info, now: now, at: at, stamp: stamp})
	if aerr != nil {
		return errorResponse(rt.action, aerr.code, aerr.msg), info.stringToSign
	}
	return jsonResponse(result, 0), info.stringToSign
}

// chargeQuotaLocked enforces QuotaPerHour over a sliding hour of the
// simulator's clock. Only authenticated requests count: the real quota is per
// key, and an unauthenticated request has no proven key.
func (s *Simulator) chargeQuotaLocked(key string, now time.Time) *apiError {
	if s.quota <= 0 {
		return nil
	}
	window := s.quotaByKey[key]
	cutoff := now.Add(-time.Hour)
	kept := window[:0]
	for _, t := range window {
		if t.After(cutoff) {
			kept = append(kept, t)
		}
	}
	if len(kept) >= s.quota {
		s.quotaByKey[key] = kept
		return errf(2500, "QuotaExceeded, api request quota [%d per 3600 seconds] of access key [%s] is exhausted", s.quota, key)
	}
	s.quotaByKey[key] = append(kept, now)
	return nil
}

// jsonResponse is an HTTP 200 JSON answer: the API reports its own errors in
// ret_code, not in the HTTP status.
func jsonResponse(v any, retCode int) *response {
	b, err := json.Marshal(v)
	if err != nil {
		// Only simulator-built values get here; failing loudly beats a silent 500.
		panic(fmt.Sprintf("ehpcsim: cannot marshal response: %v", err))
	}
	return &response{status: http.StatusOK, contentType: "application/json", body: b, retCode: retCode}
}

type errorBody struct {
	Action  string `json:"action,omitempty"`
	RetCode int    `json:"ret_code"`
	Message string `json:"message"`
}

func errorResponse(action string, code int, msg string) *response {
	return jsonResponse(errorBody{Action: action, RetCode: code, Message: msg}, code)
}

// writeResponse sends resp with a Date header from the serving backend's
// clock, read at the moment of writing: left to net/http, Date would be the
// real time, and a client measuring the server's clock would measure the
// wrong one.
func (s *Simulator) writeResponse(w http.ResponseWriter, backend int, resp *response, retryAfter string) outcome {
	h := w.Header()
	h.Set("Date", s.httpDate(backend))
	h.Set("Content-Type", resp.contentType)
	h.Set("Content-Length", strconv.Itoa(len(resp.body)))
	if resp.allow != "" {
		h.Set("Allow", resp.allow)
	}
	if retryAfter != "" {
		h.Set("Retry-After", retryAfter)
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
	return outcome{status: resp.status, retCode: resp.retCode}
}

// httpDate is backend's clock in the Date header's format (whole seconds).
func (s *Simulator) httpDate(backend int) string {
	return s.now().Add(s.backendOffset(backend)).UTC().Format(http.TimeFormat)
}

// ---- restartNodes ----

type restartResponse struct {
	Action  string `json:"action"`
	JobID   string `json:"job_id"`
	RetCode int    `json:"ret_code"`
}

func (s *Simulator) restartNodes(c *reqCtx) (any, *apiError) {
	if len(bytes.TrimSpace(c.body)) == 0 {
		return nil, errf(1100, "MissingParameter, request body is empty: send {\"cluster_id\", \"node_ids\", \"zone\"} as JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(c.body))
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil || doc == nil {
		return nil, errf(1100, "InvalidParameter, request body is not a JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errf(1100, "InvalidParameter, request body has data after the JSON object")
	}

	clusterID, aerr := stringField(doc, "cluster_id")
	if aerr != nil {
		return nil, aerr
	}
	zone, aerr := stringField(doc, "zone")
	if aerr != nil {
		return nil, aerr
	}
	if zone != c.auth.zone {
		return nil, errf(1100, "InvalidParameter, zone [%s] in the body does not match zone [%s] in the query", zone, c.auth.zone)
	}
	rawIDs, ok := doc["node_ids"]
	if !ok || rawIDs == nil {
		return nil, errf(1100, "MissingParameter, parameter [node_ids] is required")
	}
	list, ok := rawIDs.([]any)
	if !ok {
		return nil, errf(1100, "InvalidParameter, node_ids must be an array of node ids")
	}
	if len(list) == 0 {
		return nil, errf(1100, "InvalidParameter, node_ids must not be empty")
	}
	var nodeIDs []string
	seen := map[string]bool{}
	for i, v := range list {
		id, ok := v.(string)
		if !ok || strings.TrimSpace(id) == "" {
			return nil, errf(1100, "InvalidParameter, node_ids[%d] is not a node id", i)
		}
		if !seen[id] {
			seen[id] = true
			nodeIDs = append(nodeIDs, id)
		}
	}

	cs, ok := s.clusters[clusterID]
	if !ok || cs.Zone != c.auth.zone {
		return nil, errf(2100, "ResourceNotFound, cluster [%s] not found", clusterID)
	}
	var missing []string
	for _, id := range nodeIDs {
		if _, ok := cs.byID[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return nil, errf(2100, "ResourceNotFound, node [%s] not found in cluster [%s]", strings.Join(missing, ", "), clusterID)
	}
	busy := s.restartingLocked(c.now)
	for _, id := range nodeIDs {
		if _, ok := busy[nodeKey{clusterID, id}]; ok {
			return nil, errf(1400, "PermissionDenied, node [%s] is restarting", id)
		}
		if st := cs.Nodes[cs.byID[id]].Status; st != "active" {
			return nil, errf(1400, "PermissionDenied, node [%s] is %s, only active nodes can be restarted", id, st)
		}
	}

	j := s.createJobLocked(cs, nodeIDs, c, ownerOf(c.auth.accessKey))
	return restartResponse{Action: actionRestart, JobID: j.id, RetCode: 0}, nil
}

// stringField reads a required, non-blank string from the body.
func stringField(doc map[string]any, name string) (string, *apiError) {
	v, ok := doc[name]
	if !ok || v == nil {
		return "", errf(1100, "MissingParameter, parameter [%s] is required", name)
	}
	s, ok := v.(string)
	if !ok {
		return "", errf(1100, "InvalidParameter, %s must be a string", name)
	}
	if strings.TrimSpace(s) == "" {
		return "", errf(1100, "MissingParameter, parameter [%s] is required", name)
	}
	return s, nil
}

// ownerOf gives each access key a stable, realistic-looking user id without
// echoing the key itself into responses.
func ownerOf(accessKey string) string {
	sum := md5.Sum([]byte(accessKey))
	return "usr-" + hex.EncodeToString(sum[:])[:8]
}

// ---- operation ----

type operationJob struct {
	JobID          string `json:"job_id"`
	JobAction      string `json:"job_action"`
	ActionDescribe string `json:"action_describe"`
	Status         string `json:"status"`
	StatusTime     string `json:"status_time"`
	CreateTime     string `json:"create_time"`
	ResourceIDs    string `json:"resource_ids"`
	ErrorCodes     string `json:"error_codes"`
	Owner          string `json:"owner"`
	Submitter      string `json:"submitter"`
	Zone           string `json:"zone"`
}

type operationResponse struct {
	Action  string `json:"action"`
	RetCode int    `json:"ret_code"`
	listTotal
	JobSet []operationJob `json:"job_set"`
}

func (s *Simulator) listOperations(c *reqCtx) (any, *apiError) {
	q := c.query
	jobIDs := listParam(q, "jobs", "job_ids")
	resourceIDs := listParam(q, "resource_ids")
	statuses := listParam(q, "status")
	actions := listParam(q, "job_action")
	var start, end time.Time
	for _, tp := range []struct {
		name string
		dst  *time.Time
	}{{"start_time", &start}, {"end_time", &end}} {
		if v := q.Get(tp.name); v != "" {
			t, err := time.Parse(TimestampLayout, v)
			if err != nil {
				return nil, errf(1100, "InvalidParameter, %s [%s] is not in the format YYYY-MM-DDThh:mm:ssZ", tp.name, v)
			}
			*tp.dst = t
		}
	}
	page, aerr := s.parsePaging(q)
	if aerr != nil {
		return nil, aerr
	}

	var matched []*job
	for _, j := range s.jobs {
		at := j.stamped // what start_time and end_time bound
		if s.timesByStatus {
			at = j.wireStatusTime(c.now)
		}
		if j.zone != c.auth.zone ||
			len(jobIDs) > 0 && !contains(jobIDs, j.id) ||
			s.opLogLag > 0 && c.now.Before(j.created.Add(s.opLogLag)) ||
			len(resourceIDs) > 0 && !anyIn(resourceIDs, j.resourceIDs(s.queueIDs)) ||
			len(statuses) > 0 && !contains(statuses, j.status(c.now)) ||
			len(actions) > 0 && !contains(actions, JobActionRestart) ||
			!start.IsZero() && at.Before(start) ||
			!end.IsZero() && at.After(end) {
			continue
		}
		matched = append(matched, j)
	}
	// s.jobs is in order of true creation already (not of the stamped
	// create_time, which backends' clocks can disorder); reverse=1 means
	// newest first.
	if page.reverse {
		for i, k := 0, len(matched)-1; i < k; i, k = i+1, k-1 {
			matched[i], matched[k] = matched[k], matched[i]
		}
	}
	resp := operationResponse{Action: actionOperation, listTotal: s.listTotal(len(matched)), JobSet: []operationJob{}}
	for _, j := range page.slice(len(matched)) {
		jb := matched[j]
		if jb.listedBy == 0 && c.at.idx >= 0 {
			jb.listedBy = c.at.idx + 1
		}
		st := jb.status(c.now)
		errCodes := ""
		if st == statusFailed {
			errCodes = failedErrorCode
		}
		resp.JobSet = append(resp.JobSet, operationJob{
			JobID:          jb.id,
			JobAction:      JobActionRestart,
			ActionDescribe: "Restart HPC cluster nodes",
			Status:         st,
			StatusTime:     jb.wireStatusTime(c.now).UTC().Format(TimestampLayout),
			CreateTime:     jb.stamped.UTC().Format(TimestampLayout),
			ResourceIDs:    strings.Join(jb.resourceIDs(s.queueIDs), " "),
			ErrorCodes:     errCodes,
			Owner:          jb.owner,
			Submitter:      jb.owner,
			Zone:           jb.zone,
		})
	}
	return resp, nil
}

// ---- listNodes ----

type nodeView struct {
	NodeID           string   `json:"node_id"`
	Name             string   `json:"name"`
	Role             string   `json:"role"`
	Status           string   `json:"status"`
	TransitionStatus string   `json:"transition_status"`
	PrivateIP        string   `json:"private_ip"`
	InstanceID       string   `json:"instance_id"`
	ClusterID        string   `json:"cluster_id"`
	CreateTime       string   `json:"create_time"`
	StatusTime       string   `json:"status_time"`
	HealthStatus     string   `json:"health_status"`
	HealthCheck      any      `json:"health_check,omitempty"`
	Zone             string   `json:"zone"`
	Hostname         string   `json:"hostname"`
	NodeType         string   `json:"node_type"`
	CPU              int      `json:"cpu"`
	Memory           int      `json:"memory"`
	GPU              int      `json:"gpu"`
	InstanceClass    int      `json:"instance_class"`
	ImageID          string   `json:"image_id"`
	Volumes          []volume `json:"volumes"`
	Labels           []string `json:"labels"`
}

type volume struct {
	VolumeID string `json:"volume_id"`
	Size     int    `json:"size"`
	Device   string `json:"device"`
}

type listNodesResponse struct {
	Action  string `json:"action"`
	RetCode int    `json:"ret_code"`
	listTotal
	NodeSet []nodeView `json:"hpc_app_nodes_set"`
}

// healthCheckView is a node's health_check on the wire, spelled the ways the
// reference allows: the object of its example, or that object inside a
// string (its field table types it as a string); when the check is off, a
// missing field, null, or enable false. The i-th node listed gets the i-th
// spelling, so one listing holds them all.
func healthCheckView(on bool, i int) any {
	check := map[string]any{"enable": on, "check_cmd": "appctl check", "interval_sec": 60, "timeout_sec": 10, "healthy_threshold": 3, "unhealthy_threshold": 3}
	switch {
	case on && i%2 == 1:
		b, _ := json.Marshal(check)
		return string(b)
	case on:
		return check
	case i%3 == 0:
		return nil
	case i%3 == 1:
		return json.RawMessage("null")
	}
	return check
}

// roleShape gives nodes realistic, role-dependent sizes; the numbers only have
// to look plausible to a client that ignores them.
func roleShape(role string) (cpu, memory int, nodeType string) {
	switch role {
	case "login":
		return 2, 4096, "c2m4"
	case "controller":
		return 4, 8192, "c4m8"
	default:
		return 8, 16384, "c8m16"
	}
}

var nodeSortKeys = map[string]func(a, b *nodeView) int{
	"node_id":     func(a, b *nodeView) int { return strings.Compare(a.NodeID, b.NodeID) },
	"name":        func(a, b *nodeView) int { return strings.Compare(a.Name, b.Name) },
	"role":        func(a, b *nodeView) int { return strings.Compare(a.Role, b.Role) },
	"status":      func(a, b *nodeView) int { return strings.Compare(a.Status, b.Status) },
	"private_ip":  func(a, b *nodeView) int { return strings.Compare(a.PrivateIP, b.PrivateIP) },
	"instance_id": func(a, b *nodeView) int { return strings.Compare(a.InstanceID, b.InstanceID) },
	"create_time": func(a, b *nodeView) int { return strings.Compare(a.CreateTime, b.CreateTime) },
	"status_time": func(a, b *nodeView) int { return strings.Compare(a.StatusTime, b.StatusTime) },
}

func (s *Simulator) listNodes(c *reqCtx) (any, *apiError) {
	q := c.query
	clusterID := strings.TrimSpace(q.Get("cluster_id"))
	if clusterID == "" {
		return nil, errf(1100, "MissingParameter, parameter [cluster_id] is required")
	}
	sortKey := q.Get("sort_key")
	if sortKey == "" {
		sortKey = "node_id"
	}
	cmp, ok := nodeSortKeys[sortKey]
	if !ok {
		return nil, errf(1100, "InvalidParameter, sort_key [%s] is not supported", sortKey)
	}
	page, aerr := s.parsePaging(q)
	if aerr != nil {
		return nil, aerr
	}
	cs, ok := s.clusters[clusterID]
	if !ok || cs.Zone != c.auth.zone {
		return nil, errf(2100, "ResourceNotFound, cluster [%s] not found", clusterID)
	}
	s.churnLocked(cs)
	search := strings.ToLower(q.Get("search_word"))
	statuses := listParam(q, "status")
	roles := listParam(q, "role")

	created := cs.created.UTC().Format(TimestampLayout)
	last := s.lastJobsLocked(cs)
	var views []nodeView
	for _, n := range cs.Nodes {
		st := s.nodeStateLocked(cs, n, c.now, last[n.ID])
		status := st.status
		if search != "" && !strings.Contains(strings.ToLower(n.Name), search) ||
			len(statuses) > 0 && !contains(statuses, status) ||
			len(roles) > 0 && !contains(roles, n.Role) {
			continue
		}
		cpu, mem, nodeType := roleShape(n.Role)
		hostname := n.Name
		if hostname == "" {
			hostname = n.ID
		}
		views = append(views, nodeView{
			NodeID:           n.ID,
			Name:             n.Name,
			Role:             n.Role,
			Status:           status,
			TransitionStatus: st.transition,
			PrivateIP:        n.PrivateIP,
			InstanceID:       n.InstanceID,
			ClusterID:        cs.ID,
			CreateTime:       created,
			StatusTime:       st.statusTime.UTC().Format(TimestampLayout),
			HealthStatus:     st.health,
			HealthCheck:      healthCheckView(cs.healthCheck(), len(views)),
			Zone:             cs.Zone,
			Hostname:         hostname,
			NodeType:         nodeType,
			CPU:              cpu,
			Memory:           mem,
			InstanceClass:    101,
			ImageID:          "img-ehpc2204",
			Volumes:          []volume{{VolumeID: "vol-" + strings.TrimPrefix(n.ID, "cln-"), Size: 100, Device: "/dev/vdb"}},
			Labels:           []string{},
		})
	}
	sort.SliceStable(views, func(i, j int) bool {
		if d := cmp(&views[i], &views[j]); d != 0 {
			return d < 0
		}
		return views[i].NodeID < views[j].NodeID
	})
	if page.reverse {
		for i, k := 0, len(views)-1; i < k; i, k = i+1, k-1 {
			views[i], views[k] = views[k], views[i]
		}
	}
	resp := listNodesResponse{Action: actionListNodes, listTotal: s.listTotal(len(views)), NodeSet: []nodeView{}}
	for _, i := range page.slice(len(views)) {
		resp.NodeSet = append(resp.NodeSet, views[i])
	}
	return resp, nil
}

// ---- shared list helpers ----

// Values of Options.TotalField.
const (
	TotalCount = "total_count" // the action pages' name, and the default
	TotalSum   = "total_sum"   // the general request page's name
	TotalNone  = "none"        // no total at all: the client must page until a short page
	// TotalSometimes gives total_count on every other listing answer.
	TotalSometimes = "sometimes"
)

// listTotal is a listing's total under whichever name Options.TotalField
// chose; both are omitted with TotalNone.
type listTotal struct {
	TotalCount *int `json:"total_count,omitempty"`
	TotalSum   *int `json:"total_sum,omitempty"`
}

func (s *Simulator) listTotal(n int) listTotal {
	switch s.totalField {
	case TotalSometimes:
		s.totals++
		if s.totals%2 == 0 {
			return listTotal{}
		}
		return listTotal{TotalCount: &n}
	case TotalNone:
		return listTotal{}
	case TotalSum:
		return listTotal{TotalSum: &n}
	default:
		return listTotal{TotalCount: &n}
	}
}

// listParam collects a list parameter in every spelling clients use for
// QingCloud APIs: repeated (jobs=a&jobs=b), comma separated (jobs=a,b) and
// numbered (jobs.1=a&jobs.2=b), under any of the given names.
func listParam(q url.Values, names ...string) []string {
	var out []string
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		base := k
		if i := strings.LastIndexByte(k, '.'); i > 0 {
			if _, err := strconv.Atoi(k[i+1:]); err == nil {
				base = k[:i]
			}
		}
		if !contains(names, base) {
			continue
		}
		for _, v := range q[k] {
			for _, part := range strings.Split(v, ",") {
				if part = strings.TrimSpace(part); part != "" {
					out = append(out, part)
				}
			}
		}
	}
	return out
}

func anyIn(want, have []string) bool {
	for _, w := range want {
		if contains(have, w) {
			return true
		}
	}
	return false
}

type paging struct {
	offset, limit int
	reverse       bool
}

// parsePaging applies the documented defaults: limit 10, at most 100 (larger
// values are clamped, as QingCloud does, rather than rejected), then PageCap.
func (s *Simulator) parsePaging(q url.Values) (p paging, aerr *apiError) {
	defer func() {
		if s.pageCap > 0 {
			p.limit = min(p.limit, s.pageCap)
		}
	}()
	return parsePaging(q)
}

func parsePaging(q url.Values) (paging, *apiError) {
	p := paging{limit: defaultPageLimit}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, errf(1100, "InvalidParameter, offset [%s] must be a non-negative integer", v)
		}
		p.offset = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, errf(1100, "InvalidParameter, limit [%s] must be a non-negative integer", v)
		}
		if n > 0 {
			p.limit = min(n, maxPageLimit)
		}
	}
	switch v := q.Get("reverse"); v {
	case "", "0", "false":
	case "1", "true":
		p.reverse = true
	default:
		return p, errf(1100, "InvalidParameter, reverse [%s] must be 0 or 1", v)
	}
	return p, nil
}

// slice returns the indexes of the requested page of n items.
func (p paging) slice(n int) []int {
	var idx []int
	for i := p.offset; i < n && i < p.offset+p.limit; i++ {
		idx = append(idx, i)
	}
	return idx
}
