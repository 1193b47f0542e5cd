#!/usr/bin/env bash
# make release-snapshot: the full release artifact set in dist/, built by goreleaser
# from .goreleaser.yml exactly as a tagged release would be, without publishing it.
# make release-snapshot-host (scripts/release-snapshot.sh host): the same layout for
# the host's platform only (`go env GOOS`_`go env GOARCH`), one zip instead of 13: a
# minute or two rather than a quarter of an hour (2 cores, empty Go build cache), to
# try the publishing guide or a change to .goreleaser.yml.
# make release (scripts/release-snapshot.sh tag): the full set for the tag at HEAD
# (v1.2.3 gives version 1.2.3), still without publishing anywhere: make publish or
# make mirror take it from dist/.
#
#   GPG_FINGERPRINT=<key id or fingerprint>   sign SHA256SUMS with that key from the
#                                             caller's gpg keyring (gpg --batch, so the
#                                             key must not need a passphrase prompt)
#   (unset)                                   skip the signature; everything else is built
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
goreleaser=$(scripts/tool.sh goreleaser)

case "${1:-snapshot}" in
snapshot) args=(release --snapshot --clean) ;;
host)
	# goreleaser release has no --single-target (only goreleaser build has, and that
	# makes no zips, SHA256SUMS or signature), so give it a copy of .goreleaser.yml
	# whose builds.targets list holds the host's platform only.
	platform=$(go env GOOS)_$(go env GOARCH)
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	config=$tmp/goreleaser.yml
	awk -v platform="$platform" '
		in_targets && /^ *#/ { next }
		in_targets && /^ *- / { if ($2 == platform) found = 1; next }
		{ in_targets = 0 }
		/^ *targets:$/ { print $0 " [" platform "]"; in_targets = 1; lists++; next }
		{ print }
		END {
			if (lists != 1) { print "release-snapshot: .goreleaser.yml: want one builds.targets list, found " lists > "/dev/stderr"; exit 1 }
			if (!found) { print "release-snapshot: " platform " is not one of the platforms in .goreleaser.yml builds.targets" > "/dev/stderr"; exit 1 }
		}' .goreleaser.yml >"$config"
	echo "release-snapshot: building $platform only" >&2
	args=(release --snapshot --clean --config "$config")
	;;
tag)
	tag=$(git describe --tags --exact-match HEAD 2>/dev/null) || {
		echo "release: HEAD has no tag; tag it first (git tag v1.2.3)" >&2
		exit 1
	}
	echo "release: building $tag" >&2
	# --skip=publish: build and sign only; where it goes is make publish's or make mirror's job.
	args=(release --clean --skip=publish)
	;;
*)
	echo "usage: scripts/release-snapshot.sh [snapshot|host|tag]" >&2
	exit 2
	;;
esac
if [ -n "${GPG_FINGERPRINT:-}" ]; then
	gpg --batch --list-secret-keys "$GPG_FINGERPRINT" >/dev/null 2>&1 || {
		echo "release-snapshot: no secret key $GPG_FINGERPRINT in the gpg keyring${GNUPGHOME:+ $GNUPGHOME}" >&2
		exit 1
	}
	echo "release-snapshot: signing SHA256SUMS with $GPG_FINGERPRINT" >&2
else
	echo "release-snapshot: GPG_FINGERPRINT not set; building without a signature" >&2
	args+=(--skip=sign)
fi

# .goreleaser.yml archives only the binary with goreleaser's documented files: [none*]
# (a glob that matches nothing), for which goreleaser logs "no files matched
# glob=none*" once per zip. That warning is expected, so it is dropped here; every
# other line of goreleaser's log (it logs to stderr) goes through unchanged.
{ "$goreleaser" "${args[@]}" 2>&1 >&3 | { grep --line-buffered -v 'no files matched.*none\*' || true; } >&2; } 3>&1

# goreleaser lists the manifest in SHA256SUMS (checksum.extra_files) and uploads it
# with a release (release.extra_files), but leaves it out of dist/. Put it there
# under its release name so dist/ holds everything a registry is given.
sums=$(ls dist/*_SHA256SUMS)
prefix=${sums%_SHA256SUMS}
cp terraform-registry-manifest.json "${prefix}_manifest.json"
(cd dist && sha256sum --quiet -c "$(basename "$sums")")
if [ -n "${GPG_FINGERPRINT:-}" ]; then
	gpg --batch --verify "$sums.sig" "$sums"
fi

echo
echo "dist/:"
ls -1 dist/*.zip dist/*_SHA256SUMS* dist/*_manifest.json
