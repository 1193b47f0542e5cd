//go:build generate

// Package tools pins the code generators the project runs, so `go generate` uses
// the versions in go.mod.
package tools

import (
	_ "github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs"
)

// Format the examples the docs are generated from (uses the project's own CLI).
//go:generate sh -c "../.tools/bin/terraform fmt -recursive ../examples/"

// Generate documentation.
//go:generate go run github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs generate --provider-dir .. --provider-name hpc
