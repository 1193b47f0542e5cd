#!/usr/bin/env bash
# Installs one of the project's tools into .tools/bin, offline-friendly: everything
# comes from the Go module proxy through `go install`, pinned here, so a fresh
# machine with only Go gets exactly the versions CI uses. Prints the tool's path.
#
# usage: scripts/tool.sh terraform|tofu|golangci-lint|goreleaser|tfplugindocs|time-provider
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/bin"
mkdir -p "$bin"
export GOBIN="$bin"

TERRAFORM_VERSION=1.8.5
TOFU_VERSION=1.6.2
GOLANGCI_LINT_VERSION=2.15.0
GORELEASER_VERSION=2.13.0
TIME_PROVIDER_VERSION=0.14.2

# have NAME PATTERN: the tool exists and its version output matches, so a stale
# binary from an older pin is rebuilt rather than trusted.
have() {
	[ -x "$bin/$1" ] && "$bin/$1" "${@:3}" 2>/dev/null | grep -q -- "$2"
}

case "${1:?tool name}" in
terraform)
	if ! have terraform "Terraform v$TERRAFORM_VERSION" version; then
		echo "installing Terraform $TERRAFORM_VERSION into $bin (takes a few minutes the first time)" >&2
		go install -ldflags "-s -w -X github.com/hashicorp/terraform/version.dev=no" \
			"github.com/hashicorp/terraform@v$TERRAFORM_VERSION" >&2
	fi
	echo "$bin/terraform"
	;;
tofu)
	if ! have tofu "OpenTofu v$TOFU_VERSION" version; then
		echo "installing OpenTofu $TOFU_VERSION into $bin (takes a few minutes the first time)" >&2
		go install -ldflags "-s -w -X github.com/opentofu/opentofu/version.dev=no" \
			"github.com/opentofu/opentofu/cmd/tofu@v$TOFU_VERSION" >&2
	fi
	echo "$bin/tofu"
	;;
golangci-lint)
	if ! have golangci-lint "$GOLANGCI_LINT_VERSION" version; then
		echo "installing golangci-lint $GOLANGCI_LINT_VERSION into $bin" >&2
		go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v$GOLANGCI_LINT_VERSION" >&2
	fi
	echo "$bin/golangci-lint"
	;;
goreleaser)
	if ! have goreleaser "$GORELEASER_VERSION" --version; then
		echo "installing goreleaser $GORELEASER_VERSION into $bin" >&2
		go install "github.com/goreleaser/goreleaser/v2@v$GORELEASER_VERSION" >&2
	fi
	echo "$bin/goreleaser"
	;;
tfplugindocs)
	# Version pinned by go.mod through tools/tools.go.
	(cd "$root" && go build -o "$bin/tfplugindocs" github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs) >&2
	echo "$bin/tfplugindocs"
	;;
time-provider)
	if [ ! -x "$bin/terraform-provider-time" ]; then
		go install "github.com/hashicorp/terraform-provider-time@v$TIME_PROVIDER_VERSION" >&2
	fi
	echo "$bin/terraform-provider-time"
	;;
*)
	echo "unknown tool: $1" >&2
	exit 2
	;;
esac
