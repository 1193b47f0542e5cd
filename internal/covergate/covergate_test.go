package covergate

import (
	"strings"
	"testing"
)

// The profile of testdata/marked as go test -coverprofile writes it, with
// the if's body never run.
const profile = `mode: count
example.com/m/testdata/marked/marked.go:3.26,4.18 1 3
example.com/m/testdata/marked/marked.go:4.18,7.3 1 0
example.com/m/testdata/marked/marked.go:9.2,11.24 2 3
example.com/m/testdata/marked/marked.go:11.24,13.3 1 6
example.com/m/testdata/marked/marked.go:14.2,14.10 1 3
example.com/m/testdata/marked/marked.go:3.26,4.18 1 2
`

func TestGate(t *testing.T) {
	markers, err := Markers(".", []string{"testdata/marked"})
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := ReadProfile(strings.NewReader(profile), "example.com/m")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Result{}
	for _, r := range Check(markers, blocks, []string{"in-body", "after-if", "between", "gone"}) {
		got[r.Name] = r
	}
	if r := got["in-body"]; !r.Found || r.Count != 0 || !r.Failed() || r.Marker.Func != "choose" || r.Marker.Line != 5 {
		t.Errorf("in-body = %+v, want the if body's block, never run", r)
	}
	// After a control statement, the marker stands before the next block.
	if r := got["after-if"]; !r.Found || r.Count != 3 || r.Failed() {
		t.Errorf("after-if = %+v, want the block after the if, run 3 times", r)
	}
	// Between simple statements, the marker stands in their block (9.2 to
	// the loop's header), not in the loop's body.
	if r := got["between"]; !r.Found || r.Count != 3 || r.Failed() {
		t.Errorf("between = %+v, want the block of the statements around it, run 3 times", r)
	}
	if r := got["gone"]; r.Err == "" || !r.Failed() {
		t.Errorf("gone = %+v, want an error: no such marker", r)
	}
	// Duplicate lines of one block are summed.
	if b, _ := BlockOf(blocks, Marker{File: "testdata/marked/marked.go", Line: 3, Col: 27}); b.Count != 5 {
		t.Errorf("function's first block count = %d, want 5", b.Count)
	}
}
