#!/usr/bin/env bash
# Provider documentation with tfplugindocs, offline.
#
#   scripts/docs.sh generate   regenerate docs/ from templates/, examples/ and the schema
#   scripts/docs.sh check      fail if docs/ differs from a fresh generation (done in a
#                              temporary folder; docs/ is not touched), then run
#                              `tfplugindocs validate` on docs/
#
# The schema comes from the project's own Terraform CLI (.tools/bin/terraform): the
# provider is built into a temporary plugin directory, `terraform init -plugin-dir`
# installs it from there, and `terraform providers schema -json` exports it.
# cmd/docschema adds what that CLI cannot export (action schemas). tfplugindocs
# then reads the file (--providers-schema), so it neither builds the provider nor
# looks for, or downloads, a Terraform binary of its own.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mode=${1:?usage: scripts/docs.sh generate|check}

terraform=$(scripts/tool.sh terraform)
tfplugindocs=$(scripts/tool.sh tfplugindocs)

work=$(mktemp -d "${TMPDIR:-/tmp}/hpc-docs.XXXXXX")
trap 'rm -rf "$work"' EXIT

export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
export TF_CLI_CONFIG_FILE="$work/terraformrc"
echo 'disable_checkpoint = true' >"$TF_CLI_CONFIG_FILE"
unset TF_PLUGIN_CACHE_DIR

# 1. The schema, through the project's Terraform CLI.
plat="$(go env GOOS)_$(go env GOARCH)"
# The provider's one address (internal/provider.Address), as main.go serves it.
mkdir -p "$work/schema/plugins/registry.terraform.io/qingcloud/hpc/0.0.1/$plat"
go build -trimpath -o "$work/schema/plugins/registry.terraform.io/qingcloud/hpc/0.0.1/$plat/terraform-provider-hpc" .
printf 'terraform {\n  required_providers {\n    hpc = { source = "qingcloud/hpc" }\n  }\n}\nprovider "hpc" {}\n' >"$work/schema/main.tf"
"$terraform" -chdir="$work/schema" init -input=false -no-color -plugin-dir=./plugins >"$work/init.log" 2>&1 ||
	{ cat "$work/init.log" >&2; exit 1; }
"$terraform" -chdir="$work/schema" providers schema -json >"$work/schema.json"
# Terraform 1.8.5 predates actions (1.14): add the provider's action schemas, taken
# from the provider itself, so their pages are generated too; and file the schema
# under the short name tfplugindocs looks for.
go run ./cmd/docschema "$work/schema.json"

generate() { # generate PROVIDER_DIR
	"$tfplugindocs" generate --provider-dir "$1" --provider-name hpc --rendered-provider-name hpc \
		--providers-schema "$work/schema.json" >"$work/generate.log" 2>&1 ||
		{ cat "$work/generate.log" >&2; exit 1; }
	# A template whose resource, data source or action is not in the schema is
	# rendered without one; say so rather than publish a page without arguments.
	if grep -i 'does not exist' "$work/generate.log" >&2; then
		echo "docs: a template names something the provider does not have (see above)" >&2
		exit 1
	fi
}

case "$mode" in
generate)
	generate "$root"
	echo "docs/ regenerated"
	;;
check)
	mkdir -p "$work/fresh"
	cp -R templates examples "$work/fresh/"
	[ -d docs ] && cp -R docs "$work/fresh/" # so files tfplugindocs does not manage are kept as they are
	generate "$work/fresh"
	if ! diff -ru docs "$work/fresh/docs"; then
		echo "docs/ is stale: run 'make docs' and commit the result" >&2
		exit 1
	fi
	"$tfplugindocs" validate --provider-dir "$root" --provider-name hpc \
		--providers-schema "$work/schema.json" >"$work/validate.log" 2>&1 ||
		{ cat "$work/validate.log" >&2; exit 1; }
	echo "docs/ is up to date and valid"
	;;
*)
	echo "usage: scripts/docs.sh generate|check" >&2
	exit 2
	;;
esac
