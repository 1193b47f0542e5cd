// Command terraform-provider-hpc is the Terraform provider for restarting the
// nodes of QingCloud EHPC clusters.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/qingcloud/terraform-provider-hpc/internal/provider"
)

// version is set at build time by goreleaser (-X main.version=...); "dev" marks a
// local build so the user agent never claims a release it is not.
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "set to true to run the provider with support for debuggers like delve")
	flag.Parse()

	opts := providerserver.ServeOpts{
		Address: provider.Address,
		Debug:   debug,
	}

	if err := providerserver.Serve(context.Background(), provider.New(version), opts); err != nil {
		log.Fatal(err.Error())
	}
}
