package provider

import (
	"bufio"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/zclconf/go-cty/cty"

	"github.com/qingcloud/terraform-provider-hpc/internal/ehpcsim"
)

// The docs generator on Terraform 1.8 cannot see action schemas (cmd/docschema
// adds them), and Terraform 1.8 cannot validate action blocks, so the action's
// page and examples are checked here against the action's schema. (scripts/
// examples.sh validates the examples too, but only with a Terraform 1.14 or
// later, which `make test` may not have.)

// docArg is one argument line of a generated page: "- `name` (Type) description".
type docArg struct{ section, typ, desc string }

var docArgLine = regexp.MustCompile("^- `([a-z0-9_]+)` \\(([^)]+)\\) ?(.*)$")

func readDocArgs(t *testing.T, file string) map[string]docArg {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("the action's docs page: %v (run make docs)", err)
	}
	defer f.Close()
	args := map[string]docArg{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "### ") {
			section = strings.TrimPrefix(line, "### ")
			continue
		}
		if m := docArgLine.FindStringSubmatch(line); m != nil && section != "" {
			if _, dup := args[m[1]]; dup {
				t.Errorf("%s lists %s twice", file, m[1])
			}
			args[m[1]] = docArg{section: section, typ: m[2], desc: m[3]}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return args
}

// docType is how tfplugindocs names an attribute's type.
func docType(t tftypes.Type) string {
	switch {
	case t.Is(tftypes.String):
		return "String"
	case t.Is(tftypes.Number):
		return "Number"
	case t.Is(tftypes.Bool):
		return "Boolean"
	case t.Is(tftypes.Set{}):
		return "Set of " + docType(t.(tftypes.Set).ElementType)
	case t.Is(tftypes.List{}):
		return "List of " + docType(t.(tftypes.List).ElementType)
	}
	return t.String()
}

func actionSchema(t *testing.T) *tfprotov6.Schema {
	t.Helper()
	e := newTestEnv(t, ehpcsim.Options{})
	return e.protoServer(nil).schema.ActionSchemas[actionType].Schema
}

// docs/actions/cluster_node_restart.md lists exactly the action's arguments, each
// in the right section, with its type and current description.
func TestActionDocsMatchSchema(t *testing.T) {
	t.Parallel()
	file := filepath.Join("..", "..", "docs", "actions", "cluster_node_restart.md")
	got := readDocArgs(t, file)
	want := map[string]docArg{}
	for _, a := range actionSchema(t).Block.Attributes {
		section := "Optional"
		if a.Required {
			section = "Required"
		}
		if a.NestedType == nil {
			want[a.Name] = docArg{section: section, typ: docType(a.Type), desc: a.Description}
			continue
		}
		// A nested attribute links to its own section, which lists its attributes.
		want[a.Name] = docArg{section: section, typ: "Attributes", desc: fmt.Sprintf("%s (see [below for nested schema](#nestedatt--%s))", a.Description, a.Name)}
		for _, n := range a.NestedType.Attributes {
			want[n.Name] = docArg{section: fmt.Sprintf("Nested Schema for `%s`", a.Name), typ: docType(n.Type), desc: n.Description}
		}
	}
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s does not document %s (run make docs)", file, name)
		case g.section != w.section || g.typ != w.typ:
			t.Errorf("%s documents %s as %s (%s), the schema says %s (%s) (run make docs)", file, name, g.section, g.typ, w.section, w.typ)
		case g.desc != w.desc:
			t.Errorf("%s describes %s as\n  %q\nthe schema says\n  %q\n(run make docs)", file, name, g.desc, w.desc)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s documents %s, which the action does not have (run make docs)", file, name)
		}
	}
}

// Every action block in examples/actions is valid for the action's schema: known
// arguments, the required ones present, and literal values accepted by
// ValidateActionConfig (references become unknown values, as at validate time).
func TestActionExamplesValidate(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, ehpcsim.Options{})
	p := e.protoServer(nil)
	schema := p.schema.ActionSchemas[actionType].Schema
	objType := schema.ValueType().(tftypes.Object)

	files, _ := filepath.Glob(filepath.Join("..", "..", "examples", "actions", "hpc_cluster_node_restart", "*.tf"))
	more, _ := filepath.Glob(filepath.Join("..", "..", "examples", "actions", "hpc_cluster_node_restart", "*", "*.tf"))
	files = append(files, more...)
	blocks := 0
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f, diags := hclsyntax.ParseConfig(src, file, hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", file, diags.Error())
		}
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			if b.Type != "action" || len(b.Labels) != 2 || b.Labels[0] != actionType {
				continue
			}
			blocks++
			where := file + ": action." + actionType + "." + b.Labels[1]
			var cfg *hclsyntax.Body
			for _, inner := range b.Body.Blocks {
				if inner.Type == "config" {
					cfg = inner.Body
				}
			}
			if cfg == nil {
				t.Errorf("%s has no config block", where)
				continue
			}
			vals := map[string]tftypes.Value{}
			for name, a := range cfg.Attributes {
				at, ok := objType.AttributeTypes[name]
				if !ok {
					t.Errorf("%s sets %s, which the action does not have", where, name)
					continue
				}
				if len(a.Expr.Variables()) > 0 {
					vals[name] = tftypes.NewValue(at, tftypes.UnknownValue)
					continue
				}
				v, diags := a.Expr.Value(nil)
				if diags.HasErrors() {
					t.Errorf("%s: %s: %s", where, name, diags.Error())
					continue
				}
				tv, err := ctyToTF(v, at)
				if err != "" {
					t.Errorf("%s: %s: %s", where, name, err)
					continue
				}
				vals[name] = tv
			}
			for _, a := range schema.Block.Attributes {
				if _, ok := vals[a.Name]; a.Required && !ok {
					t.Errorf("%s does not set the required %s", where, a.Name)
				}
			}
			if errs := errorsOf(p.validate(vals)); len(errs) > 0 {
				t.Errorf("%s is not valid: %s", where, strings.Join(errs, "; "))
			}
		}
	}
	if blocks < 2 {
		t.Fatalf("found %d action blocks in %d example files, want at least 2", blocks, len(files))
	}
}

// ctyToTF converts a literal HCL value to the schema's type; "" error on success.
func ctyToTF(v cty.Value, t tftypes.Type) (tftypes.Value, string) {
	switch {
	case t.Is(tftypes.String) && v.Type() == cty.String:
		return tftypes.NewValue(t, v.AsString()), ""
	case t.Is(tftypes.Number) && v.Type() == cty.Number:
		return tftypes.NewValue(t, new(big.Float).Set(v.AsBigFloat())), ""
	case t.Is(tftypes.Bool) && v.Type() == cty.Bool:
		return tftypes.NewValue(t, v.True()), ""
	case t.Is(tftypes.Set{}) && (v.Type().IsTupleType() || v.Type().IsListType() || v.Type().IsSetType()):
		var elems []tftypes.Value
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			tv, err := ctyToTF(ev, t.(tftypes.Set).ElementType)
			if err != "" {
				return tftypes.Value{}, err
			}
			elems = append(elems, tv)
		}
		return tftypes.NewValue(t, elems), ""
	case t.Is(tftypes.Object{}) && v.Type().IsObjectType():
		ot := t.(tftypes.Object)
		for name := range v.Type().AttributeTypes() {
			if _, ok := ot.AttributeTypes[name]; !ok {
				return tftypes.Value{}, "unsupported attribute " + name + " in " + t.String()
			}
		}
		vals := map[string]tftypes.Value{}
		for name, at := range ot.AttributeTypes {
			if !v.Type().HasAttribute(name) {
				vals[name] = tftypes.NewValue(at, nil)
				continue
			}
			tv, err := ctyToTF(v.GetAttr(name), at)
			if err != "" {
				return tftypes.Value{}, name + ": " + err
			}
			vals[name] = tv
		}
		return tftypes.NewValue(t, vals), ""
	}
	return tftypes.Value{}, "value of type " + v.Type().FriendlyName() + " does not fit " + t.String()
}
