//go:build generate

// Package tools pins the code generators the project runs, so `go generate` uses
// the versions in go.mod.
package tools

import (
	_ "github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs"
)

// Format the examples the docs are generated from, with the project's own CLI.
//go:generate sh -c "cd .. && \"$(scripts/tool.sh terraform)\" fmt -recursive examples/"

// Generate documentation offline: scripts/docs.sh exports the schema with the
// project's own CLI and runs tfplugindocs on it (`make docs` does the same).
//go:generate sh -c "cd .. && scripts/docs.sh generate"
