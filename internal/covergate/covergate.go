// Package covergate fails a long torture run that never executed the branches
// where users get hurt (issue #31): the settle's choice between several
// candidate jobs, the merge of two lost requests, the reading of a record an
// older release wrote. Each such branch carries a marker comment in the
// source,
//
//	// torture gate: NAME: what the branch decides
//
// on its own line just before the branch's first statement, and a run's
// coverage profile (go test -coverprofile, with -coverpkg naming the
// marked packages) must show the block the marker stands in (or, where the
// marker stands between statements, the block that starts right after it)
// executed at least once. Markers are named, not numbered by line, so the
// gate follows the code as it moves; a marker the profile has no block for is
// an error, never a pass.
package covergate

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Marker is one gated branch as the source marks it.
type Marker struct {
	Name, What string
	// File is slash-separated, from the module's root; Line and Col are the
	// comment's.
	File      string
	Line, Col int
	Func      string
}

func (m Marker) String() string {
	return fmt.Sprintf("%s (func %s, %s:%d)", m.Name, m.Func, m.File, m.Line)
}

var markerRE = regexp.MustCompile(`^//\s*torture gate:\s*([a-z0-9-]+):?\s*(.*)$`)

// Markers reads the markers of the non-test Go files in dirs (relative to
// root, not recursive).
func Markers(root string, dirs []string) ([]Marker, error) {
	var out []Marker
	for _, dir := range dirs {
		paths, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			if strings.HasSuffix(p, "_test.go") {
				continue
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, p, nil, parser.ParseComments)
			if err != nil {
				return nil, err
			}
			rel, _ := filepath.Rel(root, p)
			for _, cg := range f.Comments {
				for _, c := range cg.List {
					sm := markerRE.FindStringSubmatch(c.Text)
					if sm == nil {
						continue
					}
					pos := fset.Position(c.Pos())
					out = append(out, Marker{Name: sm[1], What: strings.TrimSpace(sm[2]), File: filepath.ToSlash(rel),
						Line: pos.Line, Col: pos.Column, Func: enclosingFunc(f, c.Pos())})
				}
			}
		}
	}
	return out, nil
}

func enclosingFunc(f *ast.File, pos token.Pos) string {
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || pos < fd.Pos() || pos > fd.End() {
			continue
		}
		if fd.Recv != nil && len(fd.Recv.List) == 1 {
			t := fd.Recv.List[0].Type
			if s, ok := t.(*ast.StarExpr); ok {
				t = s.X
			}
			if id, ok := t.(*ast.Ident); ok {
				return id.Name + "." + fd.Name.Name
			}
		}
		return fd.Name.Name
	}
	return "(no function)"
}

// Block is one block of a coverage profile: where it is, and how often it ran
// (summed over the profile's lines for it).
type Block struct {
	File                                 string // slash-separated, from the module's root
	StartLine, StartCol, EndLine, EndCol int
	Count                                int64
}

// ReadProfile reads a coverage profile (the text format of go test
// -coverprofile) whose files are in module.
func ReadProfile(r io.Reader, module string) ([]Block, error) {
	type key struct {
		file           string
		sl, sc, el, ec int
	}
	sums := map[key]int64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "mode:") {
			continue
		}
		// name.go:line.column,line.column numberOfStatements count
		colon := strings.LastIndex(line, ":")
		fields := strings.Fields(line[colon+1:])
		if colon < 0 || len(fields) != 3 {
			return nil, fmt.Errorf("profile line %d: cannot read %q", n, line)
		}
		var k key
		k.file = strings.TrimPrefix(strings.TrimPrefix(line[:colon], module), "/")
		if _, err := fmt.Sscanf(fields[0], "%d.%d,%d.%d", &k.sl, &k.sc, &k.el, &k.ec); err != nil {
			return nil, fmt.Errorf("profile line %d: %v", n, err)
		}
		count, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("profile line %d: %v", n, err)
		}
		sums[k] += count
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	out := make([]Block, 0, len(sums))
	for k, c := range sums {
		out = append(out, Block{File: k.file, StartLine: k.sl, StartCol: k.sc, EndLine: k.el, EndCol: k.ec, Count: c})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return before(a.StartLine, a.StartCol, b.StartLine, b.StartCol)
	})
	return out, nil
}

func before(l1, c1, l2, c2 int) bool { return l1 < l2 || l1 == l2 && c1 < c2 }

// maxGap is how many lines below its marker the block that starts after it
// may start: more, and the marker is taken to stand nowhere.
const maxGap = 3

// BlockOf is the profile block marker m stands for: the block it lies in, or
// else the one starting right after it. false: none (the marker is stale, or
// its package was not in -coverpkg).
func BlockOf(blocks []Block, m Marker) (Block, bool) {
	var in, next *Block
	for i := range blocks {
		b := &blocks[i]
		if b.File != m.File {
			continue
		}
		starts, ends := !before(m.Line, m.Col, b.StartLine, b.StartCol), !before(b.EndLine, b.EndCol, m.Line, m.Col)
		switch {
		case starts && ends:
			if in == nil || before(in.StartLine, in.StartCol, b.StartLine, b.StartCol) {
				in = b // the innermost
			}
		case !starts && b.StartLine <= m.Line+maxGap:
			if next == nil || before(b.StartLine, b.StartCol, next.StartLine, next.StartCol) {
				next = b
			}
		}
	}
	switch {
	case in != nil:
		return *in, true
	case next != nil:
		return *next, true
	}
	return Block{}, false
}

// Result is one required marker's outcome.
type Result struct {
	Name   string
	Marker Marker
	Found  bool // the marker, and its block in the profile
	Count  int64
	Err    string
}

// Check looks up every required marker's block in the profile.
func Check(markers []Marker, blocks []Block, required []string) []Result {
	var out []Result
	for _, name := range required {
		r := Result{Name: name}
		var ms []Marker
		for _, m := range markers {
			if m.Name == name {
				ms = append(ms, m)
			}
		}
		switch len(ms) {
		case 0:
			r.Err = "no marker \"// torture gate: " + name + "\" in the gated packages (renamed or removed?)"
		case 1:
			r.Marker = ms[0]
			b, ok := BlockOf(blocks, ms[0])
			if !ok {
				r.Err = fmt.Sprintf("no block of the coverage profile at %s:%d (is its package in -coverpkg?)", ms[0].File, ms[0].Line)
				break
			}
			r.Found, r.Count = true, b.Count
		default:
			r.Err = fmt.Sprintf("%d markers named %s", len(ms), name)
		}
		out = append(out, r)
	}
	return out
}

// Failed reports whether r fails the gate.
func (r Result) Failed() bool { return r.Err != "" || r.Count == 0 }

// ModulePath reads the module path from root's go.mod.
func ModulePath(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return f[1], nil
		}
	}
	return "", fmt.Errorf("no module line in %s", filepath.Join(root, "go.mod"))
}
