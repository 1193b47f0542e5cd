// Command docschema adds to a `terraform providers schema -json` document what the
// project's Terraform CLI (1.8.5) cannot export, so tfplugindocs documents it too:
// the provider's action schemas (actions need Terraform 1.14). It asks the provider
// itself, in process, through its protocol 6 server. It also files the schema under
// the short name "hpc", which tfplugindocs looks for.
//
//	go run ./cmd/docschema schema.json   (rewrites the file; scripts/docs.sh runs it)
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/qingcloud/terraform-provider-hpc/internal/provider"
)

// providerKey is how `terraform providers schema -json` names the provider, at
// the project's one address (scripts/docs.sh declares it so).
const providerKey = provider.Address

// docsKey is the name tfplugindocs looks the provider up by: its short name (it
// would otherwise only try registry.terraform.io/hashicorp/<name>).
const docsKey = "hpc"

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: docschema SCHEMA.json")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "docschema:", err)
		os.Exit(1)
	}
}

func run(file string) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	schemas, _ := doc["provider_schemas"].(map[string]any)
	entry, ok := schemas[providerKey].(map[string]any)
	if !ok {
		return fmt.Errorf("%s has no schema for %s", file, providerKey)
	}

	srv, err := providerserver.NewProtocol6WithError(provider.New("docs")())()
	if err != nil {
		return err
	}
	resp, err := srv.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		return err
	}
	for _, d := range resp.Diagnostics {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			return fmt.Errorf("provider schema: %s: %s", d.Summary, d.Detail)
		}
	}
	// tfplugindocs finds the provider by its short name.
	delete(schemas, providerKey)
	schemas[docsKey] = entry

	actions := map[string]any{}
	for name, s := range resp.ActionSchemas {
		if s == nil || s.Schema == nil {
			continue
		}
		b, err := block(s.Schema.Block)
		if err != nil {
			return fmt.Errorf("action %s: %w", name, err)
		}
		actions[name] = map[string]any{"block": b}
	}
	if len(actions) > 0 {
		entry["action_schemas"] = actions
	}

	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(file, out, 0o600)
}

// block converts a protocol schema block to the CLI's JSON form
// (https://developer.hashicorp.com/terraform/cli/commands/providers/schema).
func block(b *tfprotov6.SchemaBlock) (map[string]any, error) {
	out := map[string]any{}
	if b == nil {
		return out, nil
	}
	describe(out, b.Description, b.DescriptionKind, b.Deprecated)
	if len(b.Attributes) > 0 {
		attrs := map[string]any{}
		for _, a := range b.Attributes {
			v, err := attribute(a)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", a.Name, err)
			}
			attrs[a.Name] = v
		}
		out["attributes"] = attrs
	}
	if len(b.BlockTypes) > 0 {
		blocks := map[string]any{}
		for _, nb := range b.BlockTypes {
			inner, err := block(nb.Block)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", nb.TypeName, err)
			}
			v := map[string]any{"nesting_mode": nestingMode(nb.Nesting), "block": inner}
			if nb.MinItems > 0 {
				v["min_items"] = nb.MinItems
			}
			if nb.MaxItems > 0 {
				v["max_items"] = nb.MaxItems
			}
			blocks[nb.TypeName] = v
		}
		out["block_types"] = blocks
	}
	return out, nil
}

func attribute(a *tfprotov6.SchemaAttribute) (map[string]any, error) {
	out := map[string]any{}
	describe(out, a.Description, a.DescriptionKind, a.Deprecated)
	for k, v := range map[string]bool{"required": a.Required, "optional": a.Optional, "computed": a.Computed, "sensitive": a.Sensitive, "write_only": a.WriteOnly} {
		if v {
			out[k] = true
		}
	}
	if a.NestedType != nil {
		attrs := map[string]any{}
		for _, na := range a.NestedType.Attributes {
			v, err := attribute(na)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", na.Name, err)
			}
			attrs[na.Name] = v
		}
		out["nested_type"] = map[string]any{"attributes": attrs, "nesting_mode": nestingMode(a.NestedType.Nesting)}
		return out, nil
	}
	t, err := typeJSON(a.Type)
	if err != nil {
		return nil, err
	}
	out["type"] = t
	return out, nil
}

// typeJSON writes a type as the CLI's JSON does: "string", ["set","string"],
// ["object",{"a":"number"}], and so on.
func typeJSON(t tftypes.Type) (any, error) {
	switch {
	case t == nil:
		return nil, fmt.Errorf("attribute without a type")
	case t.Is(tftypes.String):
		return "string", nil
	case t.Is(tftypes.Number):
		return "number", nil
	case t.Is(tftypes.Bool):
		return "bool", nil
	case t.Is(tftypes.DynamicPseudoType):
		return "dynamic", nil
	}
	switch tt := t.(type) {
	case tftypes.List:
		return collection("list", tt.ElementType)
	case tftypes.Set:
		return collection("set", tt.ElementType)
	case tftypes.Map:
		return collection("map", tt.ElementType)
	case tftypes.Object:
		attrs := map[string]any{}
		for name, at := range tt.AttributeTypes {
			v, err := typeJSON(at)
			if err != nil {
				return nil, err
			}
			attrs[name] = v
		}
		if len(tt.OptionalAttributes) == 0 {
			return []any{"object", attrs}, nil
		}
		var optional []string
		for name := range tt.OptionalAttributes {
			optional = append(optional, name)
		}
		sort.Strings(optional)
		return []any{"object", attrs, optional}, nil
	case tftypes.Tuple:
		elems := []any{}
		for _, et := range tt.ElementTypes {
			v, err := typeJSON(et)
			if err != nil {
				return nil, err
			}
			elems = append(elems, v)
		}
		return []any{"tuple", elems}, nil
	}
	return nil, fmt.Errorf("unsupported type %s", t)
}

func collection(kind string, elem tftypes.Type) (any, error) {
	v, err := typeJSON(elem)
	if err != nil {
		return nil, err
	}
	return []any{kind, v}, nil
}

func describe(out map[string]any, desc string, kind tfprotov6.StringKind, deprecated bool) {
	if desc != "" {
		out["description"] = desc
		out["description_kind"] = "plain"
		if kind == tfprotov6.StringKindMarkdown {
			out["description_kind"] = "markdown"
		}
	}
	if deprecated {
		out["deprecated"] = true
	}
}

// nestingMode writes a protocol nesting mode as the CLI's JSON does: the
// protocol's own name, in lower case ("single", "list", "set", "map", "group").
func nestingMode(m fmt.Stringer) string { return strings.ToLower(m.String()) }
