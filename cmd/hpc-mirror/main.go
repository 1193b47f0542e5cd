// Command hpc-mirror writes the release in dist/ as a static provider network
// mirror tree (make mirror), ready to upload to any static HTTPS host:
//
//	make mirror MIRROR_SOURCE=registry.example.com/qingcloud/hpc MIRROR_DIR=mirror
//	go run ./cmd/hpc-mirror -source registry.example.com/qingcloud/hpc -out mirror [-gpg-key key.asc]
//
// Every zip is checked against SHA256SUMS first, and SHA256SUMS against its
// signature when -gpg-key (or GPG_PUBLIC_KEY_FILE) names the public key.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/qingcloud/terraform-provider-hpc/internal/cli"
	"github.com/qingcloud/terraform-provider-hpc/internal/mirror"
	"github.com/qingcloud/terraform-provider-hpc/internal/release"
)

func main() {
	fs := flag.NewFlagSet("hpc-mirror", flag.ContinueOnError)
	dist := fs.String("dist", "dist", "folder holding the release")
	out := fs.String("out", "mirror", "root of the mirror tree (created or added to)")
	source := fs.String("source", "", "provider source address users write, <host>/<namespace>/hpc")
	keyFile := fs.String("gpg-key", os.Getenv("GPG_PUBLIC_KEY_FILE"), "ASCII-armored public key to check SHA256SUMS.sig against (env GPG_PUBLIC_KEY_FILE; optional)")
	cli.Main(fs, func() error { return run(*dist, *out, *source, *keyFile) })
}

func run(dist, out, source, keyFile string) error {
	src, err := mirror.ParseSource(source)
	if err != nil {
		return err
	}
	d, err := release.Open(dist)
	if err != nil {
		return err
	}
	if keyFile != "" {
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return err
		}
		key, err := release.ParseKey(string(b))
		if err != nil {
			return err
		}
		if err := d.VerifySignature(key); err != nil {
			return err
		}
		fmt.Printf("%s: signed by %s\n", d.SumsName, key.ID)
	}
	if err := mirror.Write(d, out, src, os.Stdout); err != nil {
		return err
	}
	fmt.Printf("mirror of %s %s (%d platforms) in %s: serve that folder over HTTPS and point network_mirror at it\n",
		src, d.Version, len(d.Platforms), out)
	return nil
}
