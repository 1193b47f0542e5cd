// Command hpc-publish publishes the signed release in dist/ to the private
// registry of an HCP Terraform or Terraform Enterprise organization (make publish).
//
//	TFE_ORGANIZATION=acme TFE_TOKEN=... GPG_FINGERPRINT=<key> make publish
//	go run ./cmd/hpc-publish -organization acme -gpg-key release-key.asc -dry-run
//
// Flags win over the environment:
//
//	-host          TFE_HOSTNAME          default app.terraform.io; any Terraform Enterprise host
//	-organization  TFE_ORGANIZATION      the organization, which is the provider's namespace
//	-token         TFE_TOKEN, then TF_TOKEN_<host> (Terraform's own variable, dots as
//	               underscores): a user or team token that may manage the private registry
//	-gpg-key       GPG_PUBLIC_KEY_FILE   the ASCII-armored public key that signed SHA256SUMS;
//	               without it, `gpg --armor --export $GPG_FINGERPRINT`
//	-dist          dist                  the release folder
//	-dry-run       read only; print what would be done
//
// The token is never printed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	tfe "github.com/hashicorp/go-tfe"

	"github.com/qingcloud/terraform-provider-hpc/internal/cli"
	"github.com/qingcloud/terraform-provider-hpc/internal/publish"
	"github.com/qingcloud/terraform-provider-hpc/internal/release"
)

// options are the command's flags.
type options struct {
	host, org, token, keyFile, dist, name string
	dryRun                                bool
}

func main() {
	var o options
	fs := flag.NewFlagSet("hpc-publish", flag.ContinueOnError)
	fs.StringVar(&o.host, "host", envOr("TFE_HOSTNAME", "app.terraform.io"), "HCP Terraform or Terraform Enterprise host (env TFE_HOSTNAME)")
	fs.StringVar(&o.org, "organization", os.Getenv("TFE_ORGANIZATION"), "organization, which is also the provider's namespace (env TFE_ORGANIZATION)")
	fs.StringVar(&o.token, "token", "", "API token; prefer the environment: TFE_TOKEN or TF_TOKEN_<host>")
	fs.StringVar(&o.keyFile, "gpg-key", os.Getenv("GPG_PUBLIC_KEY_FILE"), "ASCII-armored public key that signed SHA256SUMS (env GPG_PUBLIC_KEY_FILE; default: gpg --armor --export $GPG_FINGERPRINT)")
	fs.StringVar(&o.dist, "dist", "dist", "folder holding the release")
	fs.StringVar(&o.name, "name", "hpc", "provider type name")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print what would be done; write nothing")
	cli.Main(fs, func() error { return run(o) })
}

func run(o options) error {
	h := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(o.host, "https://"), "/"))
	if o.org == "" {
		return errors.New("no organization: set -organization or TFE_ORGANIZATION")
	}
	tok, err := resolveToken(o.token, h)
	if err != nil {
		return err
	}
	key, err := release.LoadKey(o.keyFile, os.Getenv("GPG_FINGERPRINT"))
	if err != nil {
		return err
	}
	d, err := release.Open(o.dist)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c, err := tfe.NewClient(&tfe.Config{Address: "https://" + h, Token: tok})
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", h, err)
	}
	fmt.Printf("registry %s, organization %s\n", h, o.org)
	return publish.Run(ctx, c, publish.Options{
		Organization: o.org, Name: o.name, Dist: d, Key: key, DryRun: o.dryRun, Out: os.Stdout,
	})
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// resolveToken: the flag, TFE_TOKEN, then the variable the Terraform CLI itself
// reads for that host, so a pipeline that already sets it for terraform init
// needs nothing more.
func resolveToken(flagValue, host string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if v := os.Getenv("TFE_TOKEN"); v != "" {
		return v, nil
	}
	tfVar := TokenVariable(host)
	if v := os.Getenv(tfVar); v != "" {
		return v, nil
	}
	return "", fmt.Errorf("no API token: set TFE_TOKEN or %s (or -token)", tfVar)
}

// TokenVariable is the environment variable Terraform reads credentials for host
// from: TF_TOKEN_ and the host with dots as underscores and hyphens as double
// underscores (app.terraform.io: TF_TOKEN_app_terraform_io).
func TokenVariable(host string) string {
	h, _, _ := strings.Cut(host, ":") // a port cannot be spelled in a variable name
	return "TF_TOKEN_" + strings.NewReplacer(".", "_", "-", "__").Replace(h)
}
