package provider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
)

// idPattern accepts any id without whitespace. The API's ids look like
// "ehpc-8jqdq0mz" and "cln-hzzvbtnh", but a stricter pattern would reject a new id
// style the API may adopt; blanks and spaces are the mistakes worth catching.
// White space is Unicode's (unicode.IsSpace): RE2's \s alone misses a
// no-break space pasted from a web page.
var idPattern = regexp.MustCompile(`^[^\s\v\x{85}\p{Z}]+$`)

func idValidator(example string) validator.String {
	return stringvalidator.RegexMatches(idPattern,
		fmt.Sprintf("must be an id without whitespace, such as %q: remove the blank or the spaces, or check the expression that produced it", example))
}

// nonEmptyNodeIDs replaces setvalidator.SizeAtLeast(1), whose "set must contain
// at least 1 elements, got: 0" names neither the likely cause nor a fix. An empty
// set is rarely typed by hand: it is usually data.hpc_cluster_nodes.X.ids from a
// filter that matched no node, so the message points there.
type nonEmptyNodeIDs struct{}

func (nonEmptyNodeIDs) Description(context.Context) string               { return "must hold at least one node id" }
func (v nonEmptyNodeIDs) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (nonEmptyNodeIDs) ValidateSet(_ context.Context, req validator.SetRequest, resp *validator.SetResponse) {
	// Unknown (a data source not read yet) is checked again once it is known.
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() || len(req.ConfigValue.Elements()) > 0 {
		return
	}
	resp.Diagnostics.AddAttributeError(req.Path, "Empty Node ID Set",
		fmt.Sprintf("%s is empty, so there is no node to restart; nothing was sent to the API. "+
			"When it comes from data.hpc_cluster_nodes.<name>.ids, that data source's filters (role, status, name_regex, health_status, in_service) matched no node of the cluster: "+
			"check their values against the cluster's nodes (the data source without filters lists them all in its nodes attribute), or give the node ids literally.", req.Path))
}

// checkEndpoint enforces the endpoint rule: https:// anywhere, plain http:// only to
// this machine. Request signatures are replayable for 60 seconds and the restart
// request is a write, so neither may cross a network in clear text; a simulator on
// loopback is the one place http:// is harmless.
func checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("%q is not an absolute URL; write it as https://host[:port], for example https://hpc-api.qingcloud.com", raw)
	}
	if u.User != nil {
		return fmt.Errorf("%q carries credentials in the URL; remove them and set access_key and secret_key instead", redactUserinfo(u))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q has a query or fragment; give only scheme, host, port and an optional path prefix", raw)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q uses plain http:// to %q, which is not a loopback host, so signed requests would cross the network unencrypted; use https://, or http:// only for a local simulator on 127.0.0.1, ::1 or localhost", raw, u.Hostname())
	default:
		return fmt.Errorf("%q has scheme %q; use https://", raw, u.Scheme)
	}
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func redactUserinfo(u *url.URL) string {
	c := *u
	c.User = url.User("REDACTED")
	return c.String()
}

// endpointValidator applies checkEndpoint at plan time to a configured endpoint.
type endpointValidator struct{}

func (endpointValidator) Description(context.Context) string {
	return "must be an https:// URL, or http:// to a loopback host"
}

func (v endpointValidator) MarkdownDescription(ctx context.Context) string {
	return "must be an `https://` URL, or `http://` to a loopback host (`127.0.0.0/8`, `::1`, `localhost`)"
}

func (endpointValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := checkEndpoint(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid EHPC API Endpoint", "The endpoint "+err.Error()+".")
	}
}

// notBlank accepts any value with a non-space character. Roles and statuses are
// open-ended in the API (`login`, `compute`, `controller`, ...), so a fixed list
// would reject a role the API adds later; a blank is always a mistake.
var notBlank = regexp.MustCompile(`\S`)

// Validators shared by the resource, the data source and the action, so the same
// mistake gets the same message everywhere.
var (
	clusterIDValidators = []validator.String{idValidator("ehpc-8jqdq0mz")}
	nodeIDsValidators   = []validator.Set{
		nonEmptyNodeIDs{},
		setvalidator.ValueStringsAre(idValidator("cln-hzzvbtnh")),
	}
	zoneValidators = []validator.String{
		stringvalidator.RegexMatches(idPattern, "must be a zone id without whitespace, such as \"jn1a\": remove the blank or the spaces, or leave zone unset to use the provider's zone"),
	}
)

var _ validator.Set = nonEmptyNodeIDs{}

var _ validator.String = endpointValidator{}

// regexpValidator checks at validate time that a string compiles as a Go regular
// expression, so a typo fails `terraform validate` rather than a read.
type regexpValidator struct{}

func (regexpValidator) Description(context.Context) string {
	return "must be a valid regular expression (Go RE2 syntax)"
}
func (v regexpValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (regexpValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := regexp.Compile(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Regular Expression", regexpErrorDetail(req.Path, err))
	}
}

var _ validator.String = regexpValidator{}

func regexpErrorDetail(p path.Path, err error) string {
	return fmt.Sprintf("%s is not a valid regular expression: %s. It uses Go RE2 syntax (https://github.com/google/re2/wiki/Syntax); "+
		"escape characters such as . ( [ with a backslash (two in HCL strings: \"\\\\.\") to match them literally.", p, err.Error())
}

// listErrorDetail says why listing failed and what to do, in the data source's
// terms. The client's ret_code hints are written for the restart (the 2100 hint
// says to check node_ids, which the data source does not have), so the hint is
// cut from the error text and a sentence fit for a read takes its place.
func listErrorDetail(endpoint, clusterID, zone string, err error) string {
	text := err.Error()
	var fix string
	var apiErr *ehpc.APIError
	var respErr *ehpc.ResponseError
	var transErr *ehpc.TransportError
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		fix = "The read was interrupted (the run was cancelled or timed out) before the API answered. Run the command again."
	case errors.As(err, &apiErr):
		if h := ehpc.Hint(apiErr.RetCode); h != "" {
			text = strings.Replace(text, ". "+h, "", 1)
		}
		switch apiErr.RetCode {
		case ehpc.CodeNotFound:
			fix = fmt.Sprintf("Check cluster_id and zone: the API knows no cluster %s in zone %s "+
				"(the zone is the provider's unless the data source sets zone; the console shows the cluster's zone).", clusterID, zone)
		case ehpc.CodeBadParameter:
			fix = "The API refused a parameter of the listing: check cluster_id, zone and status."
		case ehpc.CodePermissionDenied:
			fix = fmt.Sprintf("The key pair may not list cluster %s, or the cluster is in a state that forbids it: "+
				"check that the access key belongs to the account that owns the cluster, or wait for the cluster's running operation to finish, then run Terraform again.", clusterID)
		case 0: // an HTTP status without a ret_code: a gateway's or a web server's answer
			switch {
			case apiErr.HTTPStatus == http.StatusTooManyRequests:
				fix = "The API turned the requests away as too many: wait a minute and run Terraform again; if other tools share this key pair, lower api_requests_per_hour."
			case apiErr.HTTPStatus >= 500:
				fix = fmt.Sprintf("The endpoint (%s), or a gateway in front of it, failed: try again later, and check endpoint if it persists.", endpoint)
			default:
				fix = fmt.Sprintf("The endpoint answered with an HTTP error, not an EHPC API error: check that endpoint (%s) is the EHPC API and reachable without a proxy's login, then run Terraform again.", endpoint)
			}
		default:
			if h := ehpc.Hint(apiErr.RetCode); h != "" {
				fix = h + ""
			} else {
				fix = "The message above is the API's own: fix what it names, then run Terraform again."
			}
		}
	case errors.As(err, &respErr) && respErr.HTTPStatus >= 500:
		fix = fmt.Sprintf("A gateway in front of the API failed: try again later, and if it persists check that endpoint (%s) is the EHPC API.", endpoint)
	case errors.As(err, &respErr):
		fix = fmt.Sprintf("The answer did not come from the EHPC API as expected: check that endpoint (%s) is the EHPC API itself, not a proxy, a login page or another service, then run Terraform again.", endpoint)
	case errors.As(err, &transErr):
		fix = fmt.Sprintf("No answer came from the API: check endpoint (%s; or %s) and that this machine can reach it, then run Terraform again.", endpoint, envEndpoint)
	default:
		fix = fmt.Sprintf("Check cluster_id and that endpoint (%s) is the EHPC API, then run Terraform again.", endpoint)
	}
	return fmt.Sprintf("Listing the nodes of cluster %s in zone %s failed: %s. %s", clusterID, zone, strings.TrimSuffix(text, "."), fix)
}

// nodeValues are the data source's nodes and ids attributes for nodes.
func nodeValues(matched []ehpc.Node) (nodeList, idList types.List, diags diag.Diagnostics) {
	nodes := make([]attr.Value, 0, len(matched))
	ids := make([]attr.Value, 0, len(matched))
	for _, n := range matched {
		vals := map[string]attr.Value{
			"node_id":           types.StringValue(n.NodeID),
			"name":              types.StringValue(string(n.Name)),
			"role":              types.StringValue(string(n.Role)),
			"status":            types.StringValue(string(n.Status)),
			"private_ip":        types.StringValue(string(n.PrivateIP)),
			"instance_id":       types.StringValue(string(n.InstanceID)),
			"transition_status": types.StringValue(string(n.TransitionStatus)),
			"health_status":     types.StringNull(),
			"in_service":        types.BoolValue(n.InService()),
			"stopped":           types.BoolValue(stopped(n)),
		}
		if n.HealthReported() {
			vals["health_status"] = types.StringValue(string(n.HealthStatus))
		}
		obj, d := types.ObjectValue(clusterNodeAttrTypes, vals)
		diags.Append(d...)
		nodes = append(nodes, obj)
		ids = append(ids, types.StringValue(n.NodeID))
	}
	nodeList, d := types.ListValue(types.ObjectType{AttrTypes: clusterNodeAttrTypes}, nodes)
	diags.Append(d...)
	idList, d = types.ListValue(types.StringType, ids)
	diags.Append(d...)
	return nodeList, idList, diags
}

// Validators of the rolling argument, shared by the resource and the action.
var (
	batchSizeValidators = []validator.Int64{batchSizeValidator{}}
	pauseValidators     = []validator.String{pauseValidator{}}
)

// batchSizeValidator checks rolling.batch_size at validate time, in the
// words the rollout uses for a value known only at apply (checkBatchSize).
// The framework's AtLeast(1) said "must be at least 1, got: 0", with no fix.
type batchSizeValidator struct{}

var _ validator.Int64 = batchSizeValidator{}

func (batchSizeValidator) Description(context.Context) string {
	return "must be 1 or more"
}

func (v batchSizeValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (batchSizeValidator) ValidateInt64(_ context.Context, req validator.Int64Request, resp *validator.Int64Response) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if problem := checkBatchSize(req.Path.String(), req.ConfigValue.ValueInt64()); problem != "" {
		resp.Diagnostics.AddAttributeError(rollingErrorPath, invalidBatchSize, problem)
	}
}

const invalidBatchSize = "Invalid Rolling Batch Size"

// rollingErrorPath is where a bad batch size or pause is reported: rolling
// itself, the line Terraform can point at. Terraform does not point inside
// an object's braces, so an error on rolling.batch_size showed the
// resource's first line; the message names the argument.
var rollingErrorPath = path.Root("rolling")

// checkBatchSize returns a sentence naming the value, the problem and the
// fix; "" for a good size.
func checkBatchSize(name string, n int64) string {
	name = strings.TrimPrefix(name, "rolling.")
	switch {
	case n >= 1:
		return ""
	case name == "first_batch_size":
		return fmt.Sprintf("rolling.first_batch_size = %d, but a batch must hold at least one node. Set it to the number of nodes of the first batch, "+
			"such as first_batch_size = 1 for a canary of one node, or remove it to make the first batch as large as the others.", n)
	}
	return fmt.Sprintf("rolling.batch_size = %d, but a batch must hold at least one node. Set it to the number of nodes to restart at once, "+
		"such as batch_size = 1 to restart one node at a time, or remove rolling to restart every node in one request.", n)
}

// pauseValidator checks rolling.pause at plan time, so a typo fails before the
// first batch is sent rather than between two batches.
type pauseValidator struct{}

var _ validator.String = pauseValidator{}

func (pauseValidator) Description(context.Context) string {
	return "must be a duration from 0s to " + shortDuration(maxRollingPause) + ", such as 30s or 5m"
}

func (v pauseValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (pauseValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, problem := checkPause(req.ConfigValue.ValueString()); problem != "" {
		resp.Diagnostics.AddAttributeError(rollingErrorPath, invalidRollingPause, problem)
	}
}

const invalidRollingPause = "Invalid Rolling Pause"

// checkPause parses rolling.pause, or returns a sentence that names the value,
// the problem and the fix. The validator uses it at plan, and the rollout again
// before anything is sent, for a value that was unknown at plan.
func checkPause(s string) (time.Duration, string) {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, fmt.Sprintf("rolling.pause = %q is not a duration. Write a number with a unit (s, m or h), such as \"30s\" or \"5m\", up to %q; or remove pause to send each batch as soon as the previous one succeeded.", s, shortDuration(maxRollingPause))
	case d < 0 || d > maxRollingPause:
		return 0, fmt.Sprintf("rolling.pause = %q is outside 0s to %q. Use a pause within that range, such as \"30s\", or remove pause.", s, shortDuration(maxRollingPause))
	}
	return d, ""
}
