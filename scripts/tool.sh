#!/usr/bin/env bash
# Installs one of the project's tools into .tools/bin, offline-friendly: everything
# comes from the Go module proxy through `go install`, pinned here, so a fresh
# machine with only Go gets exactly the versions CI uses. Prints the tool's path.
#
# usage: scripts/tool.sh terraform|tofu|golangci-lint|goreleaser|tfplugindocs|time-provider
#        scripts/tool.sh terraform-latest|tofu-latest
#
# terraform-latest and tofu-latest install nothing: the go.mod files of newer Terraform
# and OpenTofu releases have replace directives, which `go install pkg@version`
# refuses, so these only find a binary someone already put in place (see latest).
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
	local out
	# Read the whole output first: under pipefail, grep -q leaving early would
	# fail the tool's write and the pipeline, and rebuild a good binary.
	[ -x "$bin/$1" ] && out=$("$bin/$1" "${@:3}" 2>/dev/null) && grep -q -- "$2" <<<"$out"
}

# pinned NAME VERSION-PATTERN VERSION-FLAG PACKAGE@VERSION [GO-INSTALL-FLAGS...]:
# installs NAME with go install unless the binary there already reports the pinned
# version, and prints its path.
pinned() {
	local name=$1 pattern=$2 flag=$3 pkg=$4
	shift 4
	if ! have "$name" "$pattern" "$flag"; then
		echo "installing $pkg into $bin (the CLIs take a few minutes the first time)" >&2
		go install "$@" "$pkg" >&2
	fi
	echo "$bin/$name"
}

# Newer CLIs than the pinned ones live outside the repository, in a cache shared by
# every clone and worktree, as files named terraform-<version> or tofu-<version>.
cli_cache="${XDG_CACHE_HOME:-$HOME/.cache}/terraform-provider-hpc/bin"

# cli_version PRODUCT FILE: the version FILE reports as PRODUCT ("Terraform" or
# "OpenTofu"), such as 1.14.9 or 1.15.0-beta1; nothing when it is not that product or
# does not run. The reported version is what counts, not the file's name: a renamed
# or mislabelled binary must not pass for a newer one.
cli_version() {
	[ -f "$2" ] && [ -x "$2" ] || return 0
	# Any line: OpenTofu 1.12 prints warnings about its CLI configuration on stdout
	# before the version (not with /dev/null as that configuration, but be safe).
	CHECKPOINT_DISABLE=1 TF_CLI_CONFIG_FILE=/dev/null "$2" version 2>/dev/null |
		sed -n "s/^$1 v\([0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*[-+.0-9A-Za-z]*\)\$/\1/p" | head -n 1 || true
}

# version_key VERSION: a key that sorts versions in order with `sort`: numeric
# major.minor.patch, and a prerelease (1.15.0-beta1) before its release.
version_key() {
	local core=${1%%[-+]*} pre=""
	[ "$core" = "$1" ] || pre=${1#"$core"}
	IFS=. read -r ma mi pa <<<"$core"
	if [ -z "$pre" ]; then
		printf '%06d.%06d.%06d.1\n' "$ma" "$mi" "$pa"
	else
		printf '%06d.%06d.%06d.0%s\n' "$ma" "$mi" "$pa" "$pre"
	fi
}

# latest PRODUCT NAME ENV MIN INCLUSIVE WHAT: prints the path of the newest NAME-<version>
# in the cache whose reported version is at least MIN (INCLUSIVE=1) or above MIN
# (INCLUSIVE=0), or the binary ENV names when set. Prints nothing and exits 0 when
# there is none, with one line on stderr saying where it looked, so `make test` can
# say it skips. A binary named by ENV that is not such a CLI is an error: someone
# asked for it explicitly.
latest() {
	local product=$1 name=$2 env=$3 min=$4 inclusive=$5 what=$6
	local LC_ALL=C # version keys compare byte by byte
	local min_key best="" best_key="" f v k
	min_key=$(version_key "$min")
	newer_enough() {
		if [ "$inclusive" = 1 ]; then [[ ! "$1" < "$min_key" ]]; else [[ "$1" > "$min_key" ]]; fi
	}
	if [ -n "${!env:-}" ]; then
		if [ ! -f "${!env}" ] || [ ! -x "${!env}" ]; then
			echo "$env=${!env}: not an executable file" >&2
			exit 1
		fi
		v=$(cli_version "$product" "${!env}")
		if [ -z "$v" ] || ! newer_enough "$(version_key "$v")"; then
			echo "$env=${!env}: want $what; it reports: $(CHECKPOINT_DISABLE=1 "${!env}" version 2>&1 | head -n 1)" >&2
			exit 1
		fi
		echo "${!env}"
		return
	fi
	for f in "$cli_cache/$name"-*; do
		v=$(cli_version "$product" "$f")
		[ -n "$v" ] || continue
		# terraform-1.14.9 may report 1.14.9 or, built without version.dev=no, 1.14.9-dev.
		if [ "${f##*/}" != "$name-$v" ] && [ "${f##*/}" != "$name-${v%%[-+]*}" ]; then
			echo "ignoring $f: it reports $product v$v" >&2
			continue
		fi
		k=$(version_key "$v")
		if newer_enough "$k" && { [ -z "$best" ] || [[ "$k" > "$best_key" ]]; }; then
			best=$f best_key=$k
		fi
	done
	if [ -z "$best" ]; then
		echo "no $what: none in $cli_cache (as $name-<version>) and $env is not set" >&2
		return
	fi
	echo "$best"
}

case "${1:?tool name}" in
terraform-latest)
	# Terraform 1.14 is the first that runs actions.
	latest Terraform terraform TF_ACC_TERRAFORM_LATEST 1.14.0 1 "Terraform >= 1.14"
	;;
tofu-latest)
	latest OpenTofu tofu TOFU_LATEST "$TOFU_VERSION" 0 "OpenTofu newer than $TOFU_VERSION"
	;;
terraform)
	pinned terraform "Terraform v$TERRAFORM_VERSION" version "github.com/hashicorp/terraform@v$TERRAFORM_VERSION" \
		-ldflags "-s -w -X github.com/hashicorp/terraform/version.dev=no"
	;;
tofu)
	pinned tofu "OpenTofu v$TOFU_VERSION" version "github.com/opentofu/opentofu/cmd/tofu@v$TOFU_VERSION" \
		-ldflags "-s -w -X github.com/opentofu/opentofu/version.dev=no"
	;;
golangci-lint)
	pinned golangci-lint "$GOLANGCI_LINT_VERSION" version "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v$GOLANGCI_LINT_VERSION"
	;;
goreleaser)
	pinned goreleaser "$GORELEASER_VERSION" --version "github.com/goreleaser/goreleaser/v2@v$GORELEASER_VERSION"
	;;
tfplugindocs)
	# Version pinned by tools/go.mod (a tool directive), a module of its own so the
	# docs generator's dependencies stay out of the provider's go.mod.
	(cd "$root/tools" && go build -o "$bin/tfplugindocs" github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs) >&2
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
