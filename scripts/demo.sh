#!/usr/bin/env bash
# make demo: a real `terraform apply` that restarts two nodes of the bundled EHPC
# simulator, then a plan that proves nothing restarts again, then what the
# simulator received. Leaves no process and no file in the repository behind.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
terraform=$(scripts/tool.sh terraform)

work=$(mktemp -d "${TMPDIR:-/tmp}/hpc-demo.XXXXXX")
sim_pid=""
cleanup() {
	if [ -n "$sim_pid" ] && kill -0 "$sim_pid" 2>/dev/null; then
		kill -TERM "$sim_pid" 2>/dev/null || true
		wait "$sim_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Colour only for a terminal: `make demo | cat`, a log file or a CI job get plain
# text, from this script and from Terraform (-no-color) alike. NO_COLOR is honoured.
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
	bold=$'\033[1m' reset=$'\033[0m' color_flag=()
else
	bold="" reset="" color_flag=(-no-color)
fi
step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$reset"; }

# drop_override_warning removes the "Provider development overrides are in
# effect" warning that every command prints (on stdout) because of the
# dev_overrides below: expected here, and noise in a demo. It handles the plain
# form and the boxed, coloured one, and passes everything else through at once.
drop_override_warning() {
	awk '
	{ plain = $0; gsub(/\033\[[0-9;]*m/, "", plain) }
	skip == 1 { if (plain ~ /releases\.[[:space:]]*$/ || plain ~ /^╵/) skip = 2; next }
	skip == 2 { if (plain ~ /^╵/) next; skip = 0; if (plain ~ /^[[:space:]]*$/) next }
	plain ~ /Provider development overrides are in effect/ { held = 0; skip = 1; next }
	plain ~ /^[[:space:]]*$/ || plain ~ /^╷/ { if (held) print pending; pending = $0; held = 1; fflush(); next }
	{ if (held) print pending; held = 0; print; fflush() }
	END { if (held) print pending }
	'
}

step "Building the provider and the EHPC simulator"
mkdir -p "$work/plugins"
go build -trimpath -ldflags "-X main.version=0.0.0-demo" -o "$work/plugins/terraform-provider-hpc" .
go build -trimpath -o "$work/ehpc-sim" ./cmd/ehpc-sim

step "Starting the simulator on a free loopback port"
"$work/ehpc-sim" -listen 127.0.0.1:0 -job-duration 3s -boot-time 2s -addr-file "$work/endpoint" \
	>"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 1 100); do
	[ -s "$work/endpoint" ] && break
	kill -0 "$sim_pid" 2>/dev/null || { cat "$work/sim.log" >&2; echo "simulator failed to start" >&2; exit 1; }
	sleep 0.1
done
[ -s "$work/endpoint" ] || { echo "simulator did not report its address" >&2; exit 1; }
sed -n '1,6p' "$work/sim.out"

# The CLI gets a config of its own: the freshly built provider stands in for the
# registry address in examples/demo, and nothing is fetched from the network.
cat >"$work/terraformrc" <<CFG
disable_checkpoint = true
provider_installation {
  dev_overrides {
    "registry.example.com/qingcloud/hpc" = "$work/plugins"
  }
  direct {}
}
CFG
export TF_CLI_CONFIG_FILE="$work/terraformrc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
export QINGCLOUD_HPC_ENDPOINT="$(cat "$work/endpoint")"
export QINGCLOUD_ACCESS_KEY="$(sed -n 's/^access_key: //p' "$work/sim.out")"
export QINGCLOUD_SECRET_KEY="$(sed -n 's/^secret_key: //p' "$work/sim.out")"
export QINGCLOUD_ZONE=jn1a

# Each run starts from an empty state in a scratch copy, so the demo can be run
# again and again and the repository stays clean.
cp examples/demo/*.tf "$work/"
tf() {
	"$terraform" -chdir="$work" "$@" ${color_flag[@]+"${color_flag[@]}"} \
		2> >(drop_override_warning >&2) | drop_override_warning
}

step "terraform apply -auto-approve  (restarts cln-cmp00001, waits until it is back in service, then cln-cmp00002)"
tf apply -auto-approve -input=false

step "terraform plan  (a second plan restarts nothing)"
tf plan -input=false -detailed-exitcode | tail -n 3

step "terraform destroy -auto-approve  (forgets the restart; restarts nothing)"
tf destroy -auto-approve -input=false | tail -n 1

step "What the simulator received"
kill -TERM "$sim_pid"
wait "$sim_pid" || true
sim_pid=""
sed -n '/^requests per path/,$p' "$work/sim.out"
grep -E 'POST|GET' "$work/sim.log" | sed 's/^ehpc-sim: //' | head -n 30
