package provider

import (
	"context"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpc"
)

var (
	_ datasource.DataSource              = &ClusterNodesDataSource{}
	_ datasource.DataSourceWithConfigure = &ClusterNodesDataSource{}
)

// ClusterNodesDataSource lists the nodes of a cluster, optionally filtered, so a
// configuration can restart "the compute nodes" without hard-coding their ids.
type ClusterNodesDataSource struct {
	data *providerData
}

// ClusterNodesDataSourceModel is the data source's configuration and result.
type ClusterNodesDataSourceModel struct {
	ID        types.String `tfsdk:"id"` // the cluster id
	ClusterID types.String `tfsdk:"cluster_id"`
	Zone      types.String `tfsdk:"zone"` // null: the provider's zone
	Role      types.String `tfsdk:"role"` // the filters: null matches every node
	Status    types.String `tfsdk:"status"`
	NameRegex types.String `tfsdk:"name_regex"`
	Health    types.String `tfsdk:"health_status"`
	InService types.Bool   `tfsdk:"in_service"`
	Stopped   types.Bool   `tfsdk:"stopped"`
	Nodes     types.List   `tfsdk:"nodes"` // of clusterNodeAttrTypes objects
	IDs       types.List   `tfsdk:"ids"`   // the ids of nodes, sorted
}

// clusterNodeAttrTypes is the object type of one element of nodes.
var clusterNodeAttrTypes = map[string]attr.Type{
	"node_id":           types.StringType,
	"name":              types.StringType,
	"role":              types.StringType,
	"status":            types.StringType,
	"private_ip":        types.StringType,
	"instance_id":       types.StringType,
	"transition_status": types.StringType,
	"health_status":     types.StringType,
	"in_service":        types.BoolType,
	"stopped":           types.BoolType,
}

// stopped reports whether n is at rest out of service: a status other than
// active, with no transition in progress (stopped, suspended, ...). The API
// restarts only active nodes (API.md), so it refuses such a node with 1400,
// again at every apply until someone starts it; a node in a transition, a
// restart among them, may come back by itself.
func stopped(n ehpc.Node) bool {
	return !strings.EqualFold(strings.TrimSpace(string(n.Status)), ehpc.NodeActive) && strings.TrimSpace(string(n.TransitionStatus)) == ""
}

// NewClusterNodesDataSource is the data source factory.
func NewClusterNodesDataSource() datasource.DataSource {
	return &ClusterNodesDataSource{}
}

func (d *ClusterNodesDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster_nodes"
}

func (d *ClusterNodesDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: desc, Computed: true}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the nodes of an EHPC cluster, optionally only those with a given role, status, name or health, " +
			"so that a restart can target, say, every compute node: `node_ids = data.hpc_cluster_nodes.compute.ids`. " +
			"It is read once per `plan`, `apply`, `apply -refresh-only` and `destroy` (one `listNodes` request per 100 nodes; applying a saved plan reads nothing), and reading restarts nothing.",
		Attributes: map[string]schema.Attribute{
			"id": computed("The cluster id (same as `cluster_id`)."),
			"cluster_id": schema.StringAttribute{
				MarkdownDescription: "Id of the EHPC cluster, such as `ehpc-8jqdq0mz`.",
				Required:            true,
				Validators:          clusterIDValidators,
			},
			"zone": schema.StringAttribute{
				MarkdownDescription: "Zone of the cluster, such as `jn1a`. Defaults to the provider's `zone`; the zone used is exported here.",
				Optional:            true,
				Computed:            true,
				Validators:          zoneValidators,
			},
			"role": schema.StringAttribute{
				MarkdownDescription: "Only nodes with this role, such as `compute`, `login` or `controller` (compared without regard to case). " +
					"Any role the API reports is accepted.",
				Optional:   true,
				Validators: []validator.String{stringvalidator.RegexMatches(notBlank, "must not be blank: give a role such as \"compute\", or leave role unset for every role")},
			},
			"status": schema.StringAttribute{
				MarkdownDescription: "Only nodes with this status, such as `active` (sent to the API as a filter, and checked again on what it returns). " +
					"A node being restarted reports another status (the simulator says `restarting`), so `status = \"active\"` skips it.",
				Optional:   true,
				Validators: []validator.String{stringvalidator.RegexMatches(notBlank, "must not be blank: give a status such as \"active\", or leave status unset for every status")},
			},
			"name_regex": schema.StringAttribute{
				MarkdownDescription: "Only nodes whose name matches this regular expression ([Go RE2 syntax](https://github.com/google/re2/wiki/Syntax)); " +
					"it may match anywhere in the name, so anchor it (`^compute-[0-9]+$`) to match whole names. Checked when the configuration is validated.",
				Optional:   true,
				Validators: []validator.String{regexpValidator{}},
			},
			"health_status": schema.StringAttribute{
				MarkdownDescription: "Only nodes whose health check reports this health, such as `healthy` or `unhealthy` (compared without regard to case). " +
					"A node whose health check is off reports no health (its `health_status` is null) and never matches.",
				Optional:   true,
				Validators: []validator.String{stringvalidator.RegexMatches(notBlank, "must not be blank: give a health such as \"unhealthy\", or leave health_status unset for every node")},
			},
			"in_service": schema.BoolAttribute{
				MarkdownDescription: "Only nodes in service (`true`) or out of it (`false`): in service is `status = \"active\"`, no `transition_status`, " +
					"and `health_status = \"healthy\"` wherever the node's health check is on. `false` finds the nodes out of service: " +
					"sick, stuck in a transition, being restarted, or stopped. To restart them, add `stopped = false`: the API refuses to restart a stopped node.",
				Optional: true,
			},
			"stopped": schema.BoolAttribute{
				MarkdownDescription: "Only nodes that are stopped (`true`) or not (`false`). Stopped means at rest in a status other than `active` " +
					"(`stopped`, `suspended`, ...) with no `transition_status`: the API restarts only active nodes and refuses a stopped one (ret_code 1400) " +
					"until it is started, so `in_service = false` with `stopped = false` selects the nodes a restart can heal, " +
					"and keeps selecting them while they restart and boot.",
				Optional: true,
			},
			"nodes": schema.ListNestedAttribute{
				MarkdownDescription: "The matching nodes, sorted by `node_id`. Empty when no node matches.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"node_id":           computed("Node id, such as `cln-hzzvbtnh`."),
						"name":              computed("Node name."),
						"role":              computed("Node role, such as `compute`."),
						"status":            computed("Node status when read, such as `active`."),
						"private_ip":        computed("Private IP address."),
						"instance_id":       computed("Id of the node's instance, such as `i-cp1a5x7d`."),
						"transition_status": computed("The operation in progress on the node when read, such as `restarting`; empty when none is."),
						"health_status": computed("The node's health when read, such as `healthy` or `unhealthy` (`\"\"` before its first check after a restart); " +
							"null when its health check is off, since the API's value then means nothing."),
						"in_service": schema.BoolAttribute{
							MarkdownDescription: "Whether the node was in service when read: `status = \"active\"`, no `transition_status`, and healthy wherever its health check is on.",
							Computed:            true,
						},
						"stopped": schema.BoolAttribute{
							MarkdownDescription: "Whether the node was stopped when read: a status other than `active` with no `transition_status`. The API refuses to restart a stopped node.",
							Computed:            true,
						},
					},
				},
			},
			"ids": schema.ListAttribute{
				MarkdownDescription: "The `node_id` of every matching node, sorted: ready for `node_ids` of `hpc_cluster_node_restart`.",
				Computed:            true,
				ElementType:         types.StringType,
			},
		},
	}
}

func (d *ClusterNodesDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *ClusterNodesDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg ClusterNodesDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	client, zone := d.data.operation(cfg.Zone, "this node list", "data source", &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	var nameRe *regexp.Regexp
	if !cfg.NameRegex.IsNull() {
		// Validated already; compiled again here because validation and read are
		// separate calls.
		var err error
		if nameRe, err = regexp.Compile(cfg.NameRegex.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("name_regex"), "Invalid Regular Expression", regexpErrorDetail(path.Root("name_regex"), err))
			return
		}
	}
	clusterID := cfg.ClusterID.ValueString()
	role := strings.TrimSpace(cfg.Role.ValueString())
	status := strings.TrimSpace(cfg.Status.ValueString())
	health := strings.TrimSpace(cfg.Health.ValueString())

	listCtx, paced := ehpc.WithPacing(ctx)
	all, err := client.ListNodes(listCtx, clusterID, ehpc.NodeFilter{Zone: zone, Status: status})
	if w := d.data.pacedWarning(paced, "this node list's"); w != nil {
		resp.Diagnostics.Append(w)
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot List Cluster Nodes", listErrorDetail(client.Endpoint(), clusterID, zone, err))
		return
	}

	var matched []ehpc.Node
	for _, n := range all {
		// role and name_regex are not API filters; status is, but is checked again
		// so an API that ignores the filter cannot widen the result.
		if role != "" && !strings.EqualFold(string(n.Role), role) ||
			status != "" && !strings.EqualFold(string(n.Status), status) ||
			nameRe != nil && !nameRe.MatchString(string(n.Name)) ||
			health != "" && (!n.HealthReported() || !strings.EqualFold(strings.TrimSpace(string(n.HealthStatus)), health)) ||
			!cfg.InService.IsNull() && n.InService() != cfg.InService.ValueBool() ||
			!cfg.Stopped.IsNull() && stopped(n) != cfg.Stopped.ValueBool() {
			continue
		}
		matched = append(matched, n)
	}
	sort.Slice(matched, func(i, j int) bool { return matched[i].NodeID < matched[j].NodeID })
	tflog.Debug(ctx, "listed cluster nodes", map[string]any{"cluster_id": clusterID, "zone": zone, "listed": len(all), "matched": len(matched)})

	nodeList, idList, diags := nodeValues(matched)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}

	cfg.ID = types.StringValue(clusterID)
	cfg.Zone = types.StringValue(zone)
	cfg.Nodes = nodeList
	cfg.IDs = idList
	resp.Diagnostics.Append(resp.State.Set(ctx, &cfg)...)
}
