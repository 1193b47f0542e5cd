#!/usr/bin/env bash
# make release-snapshot: the full release artifact set in dist/, built by goreleaser
# from .goreleaser.yml exactly as a tagged release would be, without publishing it.
# make release (scripts/release-snapshot.sh tag): the same for the tag at HEAD
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
	echo "usage: scripts/release-snapshot.sh [snapshot|tag]" >&2
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

"$goreleaser" "${args[@]}"

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
