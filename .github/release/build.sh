#!/usr/bin/env bash
# Builds diffperf's release assets into OUTDIR:
#
#   diffperf_linux_amd64, diffperf_linux_arm64   static binaries (CGO_ENABLED=0),
#                                                stamped with VERSION
#   diffperf_VERSION_checksums.txt               their SHA-256, in sha256sum's format
#
# Usage: .github/release/build.sh VERSION OUTDIR
# VERSION is a tag like v1.2.3 or v1.3.0-rc.1. The release workflow runs it;
# so does release_test.go. See README, "Releases and versions".
set -euo pipefail

if [ "$#" -ne 2 ]; then
  echo "usage: $0 VERSION OUTDIR" >&2
  exit 2
fi
version=$1
outdir=$2
# The version goes into -ldflags, a file name and a release: nothing but a
# semantic version tag.
if ! [[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "build.sh: version \"$version\" is not a tag like v1.2.3 or v1.3.0-rc.1" >&2
  exit 2
fi
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
cd "$(dirname "$0")/../.."

for arch in amd64 arm64; do
  echo "build.sh: diffperf_linux_$arch ($version)"
  # -buildvcs=true: the commit must be in the binary (diffperf --version),
  # whatever GOFLAGS says.
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -mod=readonly -buildvcs=true \
    -ldflags "-s -w -X github.com/diffperf/diffperf/internal/command.version=$version" \
    -o "$outdir/diffperf_linux_$arch" .
done

checksums="diffperf_${version}_checksums.txt"
(cd "$outdir" && sha256sum diffperf_linux_amd64 diffperf_linux_arm64 >"$checksums")
echo "build.sh: $outdir/$checksums"
cat "$outdir/$checksums"
