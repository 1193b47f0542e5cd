// Package registrytest installs the provider the way its users do: from a private
// registry, with `terraform init`. Its test builds the release artifacts for the
// host platform in goreleaser's layout (see .goreleaser.yml), signs their checksums
// with a throwaway GPG key, serves them from a loopback HTTPS server that speaks
// Terraform's provider registry protocol, and runs the real CLI against it. The
// same release also goes through each publishing path the guide describes (make
// publish to a stand-in of HCP Terraform's registry, make mirror and make
// registry to trees served by a plain static file server) before the CLI
// installs it from there.
//
// The test is an acceptance test: it runs only with TF_ACC set and
// TF_ACC_TERRAFORM_PATH naming the CLI (terraform or tofu), as `make test` does.
package registrytest
