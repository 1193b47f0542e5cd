#!/usr/bin/env bash
# Checks every example configuration under examples/ the way a user would meet it:
# `fmt -check`, then `validate` of each folder that holds .tf files, offline.
#
#   scripts/examples.sh [CLI]    CLI: path of terraform or tofu (default: the project's terraform)
#
# The action examples (examples/actions) are validated only by Terraform 1.14 or
# later; other CLIs check their formatting and skip them, saying so.
#
# The CLI gets a configuration of its own whose dev_overrides map the examples'
# source address, registry.example.com/qingcloud/hpc, to a provider built from this
# tree, so nothing is downloaded and validate sees the real schema. An example that
# declares no required_providers (the short snippets on resource pages) is validated
# with a providers.tf added beside it in a scratch copy, as a user pastes it into a
# configuration that has one.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cli=${1:-$(scripts/tool.sh terraform)}
source_addr="registry.example.com/qingcloud/hpc"

work=$(mktemp -d "${TMPDIR:-/tmp}/hpc-examples.XXXXXX")
trap 'rm -rf "$work"' EXIT

go build -trimpath -o "$work/plugins/terraform-provider-hpc" .
cat >"$work/cli.tfrc" <<CFG
disable_checkpoint = true
provider_installation {
  dev_overrides {
    "$source_addr" = "$work/plugins"
  }
  # Anything else would be downloaded: refuse, so an example that needs another
  # provider fails here instead of reaching the network.
  filesystem_mirror {
    path    = "$work/no-mirror"
    include = ["*/*/*"]
  }
}
CFG
mkdir -p "$work/no-mirror"
export TF_CLI_CONFIG_FILE="$work/cli.tfrc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
unset TF_PLUGIN_CACHE_DIR

name=$(basename "$cli")
status=0

# Action blocks (examples/actions) need Terraform 1.14 or later: older Terraform
# cannot parse them, and OpenTofu has no actions. fmt (syntax only) checks them
# with any CLI; validate only with one that knows them.
cli_says=$("$cli" version | grep -m 1 -E '^(Terraform|OpenTofu) v' || true)
actions=""
if [[ $cli_says =~ ^Terraform\ v([0-9]+)\.([0-9]+)\. ]] &&
	((BASH_REMATCH[1] > 1 || (BASH_REMATCH[1] == 1 && BASH_REMATCH[2] >= 14))); then
	actions=yes
fi
if ! "$cli" fmt -check -recursive -diff examples; then
	echo "examples: run '$name fmt -recursive examples' (or 'make fmt')" >&2
	status=1
fi

n=0
while IFS= read -r dir; do
	case "$dir" in
	examples/actions | examples/actions/*)
		# Without a CLI that knows actions, internal/provider's
		# TestActionExamplesValidate still checks them against the action's schema.
		if [ -z "$actions" ]; then
			echo "skip  $dir (actions need Terraform 1.14 or later; this is $cli_says)"
			continue
		fi
		;;
	esac
	n=$((n + 1))
	copy="$work/ex/$n"
	mkdir -p "$copy"
	cp "$dir"/*.tf "$copy/"
	if ! grep -qs 'required_providers' "$copy"/*.tf; then
		printf 'terraform {\n  required_providers {\n    hpc = { source = "%s" }\n  }\n}\n' "$source_addr" >"$copy/zz_providers.tf"
	fi
	if out=$("$cli" -chdir="$copy" validate -no-color 2>&1); then
		echo "ok    $dir"
	else
		echo "FAIL  $dir ($name validate)" >&2
		echo "$out" | grep -v -e 'Provider development overrides' -e 'dev_overrides' >&2 || true
		status=1
	fi
done < <(find examples -name '*.tf' -not -path '*/.terraform/*' -exec dirname {} \; | sort -u)

exit $status
