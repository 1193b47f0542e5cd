// Command terraform-provider-hpc is the Terraform provider for restarting the
// nodes of QingCloud EHPC clusters.
package main

import (
	"flag"
	"log"
	"os"
	"strings"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"

	"github.com/qingcloud/terraform-provider-hpc/internal/provider"
)

// version is set at build time by goreleaser (-X main.version=...); "dev" marks a
// local build so the user agent never claims a release it is not.
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "set to true to run the provider with support for debuggers like delve")
	flag.Parse()

	if !debug {
		quietUnlessShown(os.Getenv, os.Setenv)
	}
	var opts []tf6server.ServeOpt
	if debug {
		opts = append(opts, tf6server.WithManagedDebug())
	}
	// What providerserver.Serve does, with the server that makes an
	// interrupted action's error reach Terraform (provider.ProtocolServer).
	if err := tf6server.Serve(provider.Address, provider.ProtocolServer(provider.New(version)), opts...); err != nil {
		log.Fatal(err.Error())
	}
}

// quietUnlessShown turns the provider's logs off when the CLI that started it
// would throw them away. The plugin libraries log at TRACE unless told
// otherwise: every request writes dozens of JSON lines to stderr, which the CLI
// reads and parses, only to drop them unless TF_LOG_PROVIDER, or else TF_LOG,
// names a level (Terraform and OpenTofu decide alike). Measured over 50
// restarts, that is about 40% of an apply's wall time, paid by every
// pipeline. The logs' own variables (TF_LOG_SDK for the framework's,
// TF_LOG_PROVIDER_HPC for ours) are set only then, so whenever the CLI shows
// provider logs they are exactly as before. A provider run with -debug writes
// to its own terminal and is left alone.
func quietUnlessShown(getenv func(string) string, setenv func(string, string) error) {
	level := getenv("TF_LOG_PROVIDER")
	if level == "" {
		level = getenv("TF_LOG")
	}
	if level != "" && !strings.EqualFold(level, "off") {
		return
	}
	for _, name := range []string{"TF_LOG_SDK", "TF_LOG_PROVIDER_HPC"} {
		_ = setenv(name, "OFF") // only fails on a malformed name
	}
}
