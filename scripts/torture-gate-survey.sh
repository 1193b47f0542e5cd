#!/usr/bin/env bash
# How many torture seeds execute each branch the coverage gate of make torture
# requires (issue #31): one coverage-instrumented test binary, run once per
# seed, each seed's counters turned into a profile and read by hpc-covergate.
# Usage: scripts/torture-gate-survey.sh [FIRST] [N] (default seeds 1..500).
# Prints, per gated branch, the number of seeds that ran it and the first few.
set -euo pipefail
first=${1:-1} n=${2:-500}
gate=$(sed -n 's/^TORTURE_GATE *:\?= *//p' GNUmakefile)
dirs=$(sed -n 's/^TORTURE_GATE_DIRS *:\?= *//p' GNUmakefile)
pkgs=$(for d in $dirs; do printf './%s/...,' "$d"; done)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/provider.test" -cover -covermode=atomic -coverpkg="${pkgs%,}" ./internal/provider/
go build -o "$tmp/covergate" ./cmd/hpc-covergate
for ((s = first; s < first + n; s++)); do
	mkdir "$tmp/cov"
	(cd internal/provider && TORTURE_FIRST=$s TORTURE_SEEDS=1 "$tmp/provider.test" -test.run '^TestTorture$' -test.gocoverdir="$tmp/cov" >"$tmp/out" 2>&1) ||
		{ echo "seed $s FAILED:"; cat "$tmp/out"; }
	go tool covdata textfmt -i="$tmp/cov" -o "$tmp/prof"
	"$tmp/covergate" -counts -profile "$tmp/prof" -require "$gate" $dirs | sed "s/\$/ $s/" >>"$tmp/counts"
	rm -rf "$tmp/cov"
done
awk -v n="$n" '$2 > 0 { seeds[$1]++; if (length(list[$1]) < 60) list[$1] = list[$1] " " $3 } { names[$1] = 1 }
	END { for (k in names) printf "%-22s %4d of %d seeds%s\n", k, seeds[k], n, (seeds[k] ? " (" substr(list[k], 2) " ...)" : "") }' "$tmp/counts" | sort
