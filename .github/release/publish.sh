#!/usr/bin/env bash
# Publishes the GitHub release VERSION with the assets build.sh wrote to
# DIST, then moves the major tag (v1 for v1.2.3) to it when VERSION is a
# stable release and the highest of its major version.
#
# Usage: .github/release/publish.sh VERSION DIST
# Runs in a clone with all tags whose origin it may push to, with gh
# authenticated by GH_TOKEN (the release workflow's publish job).
set -euo pipefail

if [ "$#" -ne 2 ]; then
  echo "usage: $0 VERSION DIST" >&2
  exit 2
fi
version=$1
dist=$2
if ! [[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "publish.sh: version \"$version\" is not a tag like v1.2.3 or v1.3.0-rc.1" >&2
  exit 2
fi
sums=diffperf_${version}_checksums.txt
files=()
for f in diffperf_linux_amd64 diffperf_linux_arm64 "$sums"; do
  if [ ! -f "$dist/$f" ]; then
    echo "publish.sh: $dist/$f is missing" >&2
    exit 1
  fi
  files+=("$dist/$f")
done
# Once more after the artifact's round trip: publish only what was checked.
(cd "$dist" && sha256sum --strict -c "$sums")
if ! git rev-parse -q --verify "refs/tags/$version" >/dev/null; then
  echo "publish.sh: tag $version is not in this clone (check out with fetch-depth: 0)" >&2
  exit 1
fi

prerelease=()
if [[ $version == *-* ]]; then
  prerelease=(--prerelease)
fi
if gh release view "$version" >/dev/null 2>&1; then
  # A re-run after a failure half-way: complete the release in place.
  echo "publish.sh: release $version exists; uploading its assets again"
  gh release upload "$version" "${files[@]}" --clobber
else
  gh release create "$version" "${files[@]}" --verify-tag --title "$version" --generate-notes "${prerelease[@]}"
fi

# The major tag follows the highest stable release of its major version:
# not a pre-release, and not a patch of an older minor released later.
major=${version%%.*}
if [ "${#prerelease[@]}" -gt 0 ]; then
  echo "publish.sh: $version is a pre-release; $major stays where it is"
  exit 0
fi
highest=$(git tag --list "$major.*" | grep -E "^$major\\.[0-9]+\\.[0-9]+\$" | sort -V | tail -n 1 || true)
if [ "$highest" != "$version" ]; then
  echo "publish.sh: $highest is a higher $major release than $version; $major stays where it is"
  exit 0
fi
git tag -f "$major" "$version^{commit}"
if ! git push -f origin "refs/tags/$major"; then
  # GitHub refuses a push by GITHUB_TOKEN that moves a ref across changes
  # of .github/workflows/ (it needs the workflows permission, which a
  # workflow's token cannot get). The release itself is published.
  echo "::error::publish.sh: release $version is published, but moving $major to it was refused." \
    "If the push names the workflows permission, set the secret MAJOR_TAG_TOKEN (a token with contents and workflows write)," \
    "or move it by hand: git tag -f $major $version^{commit} && git push -f origin refs/tags/$major"
  exit 1
fi
echo "publish.sh: $major now points at $version"
