package ehpc

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Looking up some nodes of a large cluster. The API has no filter by node id
// (API.md), so ListNodes reads a cluster of N nodes in about N/100 requests
// whatever it is looking for. LookupNodes reads only the windows of the list,
// in node_id order (sort_key), where the nodes it looks for are: a NodeIndex
// remembers where each node was, and where it is not, the order itself says
// which way to go (a binary search). Offsets are never trusted: nodes join
// and leave between two pages, so a node is only ever taken from a page that
// holds it, and only a page that brackets its id (holds a node either side of
// it, or starts the list or ends it) shows it absent. A node seen absent is
// looked for again, from scratch; absent twice, it is gone from the cluster,
// an error that names it. When the API does not order the list by node_id
// (it refuses the sort_key, or a page is out of order), or the windows keep
// missing, LookupNodes falls back to reading the whole list, and a node not
// in it is left out: never taken for one in service, never called gone on
// the word of a listing that can skip nodes.

// nodeSortKey is the order LookupNodes reads in: node ids are unique and
// never change, so a node moves in it only as others join or leave.
const nodeSortKey = "node_id"

// NodeIndex is what LookupNodes learned of one cluster's list: where each
// node it saw was, and how long the list was. Keep one per cluster and pass
// it to every lookup of that cluster, so that a look at a batch reads its
// window at once; a nil index (or a new one) costs a binary search. It is
// safe for concurrent use; lookups sharing one run one at a time.
type NodeIndex struct {
	// turn is held by the one lookup using the index, through its requests:
	// a channel, not a mutex, so that a lookup waiting for its turn is
	// cancelled with its context (an interrupt never waits on another
	// resource's slow listing), and so that fake-time tests see the wait as
	// a durable block.
	turn  chan struct{}
	ids   []string       // every id seen, sorted
	pos   map[string]int // id -> offset where last seen
	total int            // the list's length, as last given or counted (0: unknown)
	page  int            // the longest page the API served (0: none yet)
	// unordered is set once the API did not serve the list in node_id
	// order: from then on the cluster is read whole.
	unordered bool
}

// NewNodeIndex returns an empty index.
func NewNodeIndex() *NodeIndex {
	return &NodeIndex{pos: map[string]int{}, turn: make(chan struct{}, 1)}
}

// NodesGoneError is a lookup of nodes that are not in the cluster: the list,
// read in node_id order, twice showed each without it.
type NodesGoneError struct {
	ClusterID string
	IDs       []string
}

func (e *NodesGoneError) Error() string {
	what := "node " + e.IDs[0] + " is"
	if len(e.IDs) > 1 {
		what = "nodes " + strings.Join(e.IDs, ", ") + " are"
	}
	return fmt.Sprintf("list nodes: cluster %s: %s not in the cluster's node list (looked for twice, in node_id order); "+
		"a node removed from the cluster cannot come back into service: remove it from node_ids, or look at the cluster in the console",
		e.ClusterID, what)
}

// LookupNodes returns the nodes of ids in clusterID (f.Zone's; f's other
// fields are not used), in the order of ids, read from the cluster's list a
// window at a time (see above). A node not found is left out; a node the
// list shows is not in the cluster makes a *NodesGoneError naming it, along
// with the nodes found. idx may be nil.
func (c *Client) LookupNodes(ctx context.Context, clusterID string, f NodeFilter, ids []string, idx *NodeIndex) ([]Node, error) {
	clusterID = strings.TrimSpace(clusterID)
	if clusterID == "" {
		return nil, fmt.Errorf("list nodes: cluster id is empty")
	}
	if idx == nil {
		idx = NewNodeIndex()
	}
	select {
	case idx.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("list nodes: cluster %s: %w", clusterID, ctx.Err())
	}
	defer func() { <-idx.turn }()
	want := slices.Compact(slices.Sorted(slices.Values(ids)))
	l := &lookup{c: c, cluster: clusterID, zone: f.Zone, idx: idx, found: map[string]Node{}}
	absent, err := l.locate(ctx, want)
	if err == nil && len(absent) > 0 {
		absent, err = l.locate(ctx, absent) // once more, from scratch: gone only if absent again
	}
	if err != nil {
		return nil, err
	}
	out := make([]Node, 0, len(ids))
	for _, id := range ids {
		if n, ok := l.found[id]; ok {
			out = append(out, n)
		}
	}
	if len(absent) > 0 {
		return out, &NodesGoneError{ClusterID: clusterID, IDs: slices.Sorted(slices.Values(absent))}
	}
	return out, nil
}

// lookup is one LookupNodes call.
type lookup struct {
	c        *Client
	cluster  string
	zone     string
	idx      *NodeIndex
	found    map[string]Node
	fellBack bool // the whole list was read: what it lacked is not looked for again
}

// span is where a node can still be: offsets [lo, hi); hi < 0 is unknown.
type span struct{ lo, hi int }

// locate finds the nodes of want (sorted), into l.found, and returns those
// the list showed absent.
func (l *lookup) locate(ctx context.Context, want []string) (absent []string, err error) {
	pending := slices.Clone(want)
	spans := make(map[string]span, len(want))
	for _, id := range want {
		spans[id] = span{0, -1}
	}
	for reads := 0; len(pending) > 0; reads++ {
		if l.idx.unordered || reads >= l.budget() {
			return l.readWhole(ctx, pending, absent)
		}
		offset := l.window(pending[0], spans[pending[0]])
		page, end, err := l.read(ctx, offset)
		switch {
		case RetCode(err) == CodeBadParameter: // sort_key refused: read in the API's own order
			l.unordered(ctx, "the API refused sort_key "+nodeSortKey)
			continue
		case err != nil:
			return nil, err
		case page == nil: // out of order
			continue
		}
		var still []string
		for _, id := range pending {
			sp, verdict := place(id, page, offset, end, spans[id])
			switch verdict {
			case inPage:
				l.found[id] = page[slices.IndexFunc(page, func(n Node) bool { return n.NodeID == id })]
			case notInList:
				absent = append(absent, id)
			default:
				if sp.hi >= 0 && sp.lo >= sp.hi {
					sp = span{0, -1} // the list moved under the search: start it again
				}
				spans[id] = sp
				still = append(still, id)
			}
		}
		pending = still
	}
	return absent, nil
}

type verdict int

const (
	elsewhere verdict = iota
	inPage
	notInList
)

// place says what page, read at offset, shows of id: there, absent from the
// list (bracketed by the page), or elsewhere, within the narrowed span.
func place(id string, page []Node, offset int, end bool, sp span) (span, verdict) {
	if len(page) == 0 {
		if offset <= sp.lo {
			return sp, notInList // nothing where id would be: past the list's end
		}
		return span{sp.lo, offset}, elsewhere
	}
	first, last := page[0].NodeID, page[len(page)-1].NodeID
	switch {
	case slices.ContainsFunc(page, func(n Node) bool { return n.NodeID == id }):
		return sp, inPage
	case id < first && offset == 0, id > last && end, first < id && id < last:
		return sp, notInList
	case id < first:
		return span{sp.lo, offset}, elsewhere
	}
	return span{max(sp.lo, offset+len(page)), sp.hi}, elsewhere
}

// budget bounds the windows one search reads: twice a whole listing, past
// which the list is read whole instead.
func (l *lookup) budget() int {
	per := max(l.idx.page, 1)
	return max(8, 2*(l.idx.total/per+1))
}

// window is the offset to read next for id, which can be within sp: where
// the index places it, when that is within sp, else the middle of sp.
func (l *lookup) window(id string, sp span) int {
	per := cmpOr(l.idx.page, listNodesPage)
	hi := sp.hi
	if hi < 0 && l.idx.total > sp.lo {
		hi = l.idx.total
	}
	at, ok := l.idx.place(id, per)
	switch {
	case ok && at+per > sp.lo && (hi < 0 || at < hi):
		return max(sp.lo, at)
	case hi < 0 && sp.lo == 0:
		return 0
	case hi < 0:
		return 2 * sp.lo // no end known: gallop
	}
	return max(sp.lo, (sp.lo+hi)/2-per/2)
}

func cmpOr(a, b int) int {
	if a > 0 {
		return a
	}
	return b
}

// place is the offset of the window of per nodes in which the index expects
// id: a little before where it was (a node moves back as nodes before it
// leave); for a node never seen, just after the node before it, when the
// nodes either side of it were within a page of each other, or where its id
// falls between theirs (ids are spread evenly enough for that to land near).
// Without a seen node either side of it, nowhere: the caller searches.
func (x *NodeIndex) place(id string, per int) (int, bool) {
	if p, ok := x.pos[id]; ok {
		return max(p-per/10, 0), true
	}
	i, _ := slices.BinarySearch(x.ids, id)
	if i == 0 || i == len(x.ids) {
		return 0, false
	}
	a, b := x.ids[i-1], x.ids[i]
	before, after := x.pos[a], x.pos[b]
	if after-before <= per {
		return max(before+1-per/10, 0), true
	}
	at := before + 1 + int(idFraction(a, b, id)*float64(after-before-1))
	return max(at-per/2, 0), true
}

// idFraction is how far x lies from a towards b (a < x < b), reading the
// bytes after their common prefix as a number.
func idFraction(a, b, x string) float64 {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	value := func(s string) float64 {
		v, scale := 0.0, 1.0
		for i := n; i < n+8; i++ {
			scale /= 256
			if i < len(s) {
				v += float64(s[i]) * scale
			}
		}
		return v
	}
	va, vb, vx := value(a), value(b), value(x)
	if vb <= va {
		return 0.5
	}
	return min(max((vx-va)/(vb-va), 0), 1)
}

// read reads one page at offset in node_id order and records it in the
// index; end says the page ends the list. A page out of order marks the
// index unordered and returns nil.
func (l *lookup) read(ctx context.Context, offset int) (page []Node, end bool, err error) {
	params := url.Values{}
	params.Set("cluster_id", l.cluster)
	params.Set("sort_key", nodeSortKey)
	params.Set("offset", strconv.Itoa(offset))
	params.Set("limit", strconv.Itoa(listNodesPage))
	var out listNodesResponse
	if err := l.c.do(ctx, request{method: http.MethodGet, path: PathListNodes, zone: l.zone, params: params, safe: true}, &out); err != nil {
		return nil, false, err
	}
	page = *out.Nodes
	if !slices.IsSortedFunc(page, func(a, b Node) int { return strings.Compare(a.NodeID, b.NodeID) }) ||
		len(slices.CompactFunc(slices.Clone(page), func(a, b Node) bool { return a.NodeID == b.NodeID })) != len(page) {
		l.unordered(ctx, "the API served a page out of "+nodeSortKey+" order")
		return nil, false, nil
	}
	total, known := out.total()
	end = known && offset+len(page) == total // a total below what came is not trusted
	l.idx.record(page, offset, total, known)
	if page == nil {
		page = []Node{}
	}
	return page, end, nil
}

// unordered gives up reading the cluster's list in windows, for good, and
// says so once: from now on every look at it reads it whole.
func (l *lookup) unordered(ctx context.Context, why string) {
	if !l.idx.unordered && l.c.cfg.Logger != nil {
		l.c.cfg.Logger(ctx, "listNodes: "+why+"; the nodes of cluster "+l.cluster+" are read from its whole list from now on, one request per 100 nodes",
			map[string]any{"cluster_id": l.cluster})
	}
	l.idx.unordered = true
}

// record notes where page, read at offset, placed its nodes.
func (x *NodeIndex) record(page []Node, offset, total int, known bool) {
	x.page = max(x.page, len(page))
	switch {
	case known:
		x.total = total
	case len(page) == 0 && offset > 0:
		x.total = offset // at most: nothing there
	default:
		x.total = max(x.total, offset+len(page))
	}
	for i, n := range page {
		if _, ok := x.pos[n.NodeID]; !ok {
			j, _ := slices.BinarySearch(x.ids, n.NodeID)
			x.ids = slices.Insert(x.ids, j, n.NodeID)
		}
		x.pos[n.NodeID] = offset + i
	}
}

// readWhole reads the whole list, once a lookup, for the nodes of pending
// and absent, and returns those of absent it lacks too. A node of pending it
// lacks is left out, neither found nor gone: a listing paged by offset can
// skip a node while others leave.
func (l *lookup) readWhole(ctx context.Context, pending, absent []string) ([]string, error) {
	if l.fellBack {
		return absent, nil
	}
	l.fellBack = true
	nodes, err := l.c.ListNodes(ctx, l.cluster, NodeFilter{Zone: l.zone})
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		if slices.Contains(pending, n.NodeID) || slices.Contains(absent, n.NodeID) {
			l.found[n.NodeID] = n
		}
	}
	if l.idx.unordered {
		return nil, nil // the windows that showed a node absent cannot be trusted
	}
	return slices.DeleteFunc(absent, func(id string) bool { _, ok := l.found[id]; return ok }), nil
}
