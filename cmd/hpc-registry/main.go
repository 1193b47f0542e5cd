// Command hpc-registry writes the signed release in dist/ as a static provider
// registry tree (make registry), ready to upload as it is to any HTTPS host;
// consumers then need nothing but the source address, <host>/<namespace>/hpc:
//
//	GPG_FINGERPRINT=<key> make registry REGISTRY_DIR=registry
//	go run ./cmd/hpc-registry -dist dist -out dist/registry -namespace qingcloud -gpg-key release-key.asc
//
// The public key comes from -gpg-key (GPG_PUBLIC_KEY_FILE), or without it from
// `gpg --armor --export $GPG_FINGERPRINT`. Every zip is checked against
// SHA256SUMS and SHA256SUMS against the key before anything is written.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/qingcloud/terraform-provider-hpc/internal/cli"
	"github.com/qingcloud/terraform-provider-hpc/internal/registry"
	"github.com/qingcloud/terraform-provider-hpc/internal/release"
)

func main() {
	fs := flag.NewFlagSet("hpc-registry", flag.ContinueOnError)
	dist := fs.String("dist", "dist", "folder holding the release")
	out := fs.String("out", "dist/registry", "root of the registry tree (created or added to)")
	namespace := fs.String("namespace", "qingcloud", "the namespace in the source address <host>/<namespace>/hpc")
	keyFile := fs.String("gpg-key", os.Getenv("GPG_PUBLIC_KEY_FILE"), "ASCII-armored public key that signed SHA256SUMS (env GPG_PUBLIC_KEY_FILE; default: gpg --armor --export $GPG_FINGERPRINT)")
	cli.Main(fs, func() error { return run(*dist, *out, *namespace, *keyFile) })
}

func run(dist, out, namespace, keyFile string) error {
	d, err := release.Open(dist)
	if err != nil {
		return err
	}
	// Unsigned first: without a signature no key can help, and signing is the fix.
	if err := d.RequireSignature(); err != nil {
		return err
	}
	key, err := release.LoadKey(keyFile, os.Getenv("GPG_FINGERPRINT"))
	if err != nil {
		return err
	}
	if err := d.VerifySignature(key); err != nil {
		return err
	}
	fmt.Printf("%s: signed by %s\n", d.SumsName, key.ID)
	res, err := registry.Write(d, key, out, namespace, os.Stdout)
	if err != nil {
		return err
	}
	if !res.Added {
		fmt.Printf("%s/%s %s was in %s already, with the same files; nothing else changed\n", namespace, registry.Type, d.Version, out)
	}
	if res.NewTree && len(res.Versions) == 1 {
		fmt.Printf("note: %s held no versions of %s/%s, so its versions document lists %s alone. If your host already serves this provider, put its tree here first and run this again: uploading this one would replace the host's list of versions (make release-snapshot empties dist/, dist/registry with it)\n",
			out, namespace, registry.Type, d.Version)
	}
	fmt.Printf("registry tree of %s/%s in %s (versions: %d): upload it as it is to an HTTPS host, serve .well-known/terraform.json as application/json, and write source = \"<host>/%s/%s\"\n",
		namespace, registry.Type, out, len(res.Versions), namespace, registry.Type)
	return nil
}
