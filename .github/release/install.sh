#!/usr/bin/env bash
# Installs the diffperf binary of the action's own release at DEST/diffperf,
# or says that the action must build it from source. action.yml runs it from
# the action's own files (github.action_path), never from the checkout.
#
# Usage: .github/release/install.sh DEST
#
# Environment:
#   DIFFPERF_ACTION_REF         github.action_ref: the ref of `uses: owner/repo@REF`
#                               (empty for `uses: ./`)
#   DIFFPERF_ACTION_REPOSITORY  github.action_repository (owner/repo)
#   GITHUB_SERVER_URL           set by the runner (GitHub Enterprise Server too)
#   RUNNER_ARCH                 set by the runner (X64, ARM64); else uname -m
#   GITHUB_OUTPUT               set by the runner; gets from-source=true|false
#   DIFFPERF_RELEASES_URL       for tests and mirrors only: replaces
#                               $GITHUB_SERVER_URL/OWNER/REPO/releases/download
#                               (https only)
#   DIFFPERF_TAGS_URL           for tests and mirrors only: replaces
#                               $GITHUB_SERVER_URL/OWNER/REPO.git, whose tags
#                               git ls-remote reads
#
# Nothing a benchmark of an earlier job could have planted in the runner
# user's home is read: curl runs with -q (no ~/.curlrc), git without the
# global and system configuration, and only https is spoken, redirects
# included.
#
# Which release:
#   vX.Y.Z (or vX.Y.Z-pre)  that release
#   vX (the major tag)      the highest stable vX.Y.Z tag on the same commit
#   a 40-digit commit SHA   the highest vX.Y.Z tag on that commit (so a
#                           `@<SHA> # vX.Y.Z` pin gets the binary too)
# Whichever it is, the binary's --version must name the commit the action
# runs from (the SHA, or the commit of the tag): a binary built from any
# other commit is not installed, and the action builds from source.
# The tags are read with git ls-remote. Anything else (a branch, `uses: ./`,
# a commit no release tag is on, a runner that is not Linux on x64 or arm64)
# builds from source; so does a release whose assets cannot be downloaded,
# with a warning. A binary whose SHA-256 differs from the release's
# checksums file is refused: exit 1, nothing installed.
set -euo pipefail

if [ "$#" -ne 1 ]; then
  echo "usage: $0 DEST" >&2
  exit 2
fi
dest=$1
ref=${DIFFPERF_ACTION_REF:-}
repo=${DIFFPERF_ACTION_REPOSITORY:-}
server=${GITHUB_SERVER_URL:-https://github.com}
server=${server%/}

output() {
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    echo "$1" >>"$GITHUB_OUTPUT"
  fi
}

# Messages may quote a ref, a repository or what curl or git said: escaped
# like a workflow command's message, so that no line of theirs can start a
# workflow command.
esc() {
  local m=$1
  m=${m//'%'/'%25'}
  m=${m//$'\r'/'%0D'}
  m=${m//$'\n'/'%0A'}
  printf '%s' "$m"
}
say() { echo "diffperf: $(esc "$1")"; }
warn() { echo "::warning::diffperf: $(esc "$1")"; }
refuse() {
  echo "::error::diffperf: $(esc "$1")"
  exit 1
}
from_source() {
  say "$1: building from source"
  output "from-source=true"
  exit 0
}

semver='v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?'
if [ -z "$ref" ]; then
  from_source "no action ref (uses: ./ or a local action)"
fi
if ! [[ $repo =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]]; then
  from_source "action repository \"$repo\" is not owner/repo"
fi
if ! [[ $ref =~ ^($semver|v[0-9]+|[0-9a-f]{40})$ ]]; then
  from_source "ref \"$ref\" is not a release tag (vX.Y.Z or vX) or a commit SHA"
fi

case "${RUNNER_OS:-Linux}" in
Linux) ;;
*) from_source "no release binary for ${RUNNER_OS}" ;;
esac
case "${RUNNER_ARCH:-$(uname -m)}" in
X64 | x86_64 | amd64) arch=amd64 ;;
ARM64 | aarch64 | arm64) arch=arm64 ;;
*) from_source "no release binary for the architecture ${RUNNER_ARCH:-$(uname -m)}" ;;
esac
if ! command -v curl >/dev/null 2>&1; then
  from_source "curl is not installed, so the release binary cannot be downloaded"
fi

# The release a major tag or a commit stands for: the highest vX.Y.Z tag on
# the same commit (stable ones only for a major tag, which moves only to
# stable releases). Annotated tags are followed to their commit (^{}).
tag=$ref
if ! tags=$(GIT_TERMINAL_PROMPT=0 GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 git ls-remote --tags "${DIFFPERF_TAGS_URL:-$server/$repo.git}" 2>&1); then
  warn "cannot list the tags of $repo to find the release of $ref (the repository may need credentials): $tags"
  from_source "no release found for $ref"
fi
# The commit the action runs from: the SHA itself, or the commit of the tag.
commit=$ref
if ! [[ $ref =~ ^[0-9a-f]{40}$ ]]; then
  commit=$(awk -v ref="$ref" '
    { name = $2; sub(/^refs\/tags\//, "", name) }
    name == ref "^{}" { peeled = $1 }
    name == ref { plain = $1 }
    END { print (peeled != "" ? peeled : plain) }' <<<"$tags")
  if [ -z "$commit" ] && [[ $ref =~ ^$semver$ ]]; then
    from_source "no tag $ref in $repo"
  fi
fi
if ! [[ $ref =~ ^$semver$ ]]; then
  matches=$(awk -v ref="$ref" '
    {
      name = $2
      sub(/^refs\/tags\//, "", name)
      if (sub(/\^\{\}$/, "", name)) { commit[name] = $1; peeled[name] = 1 }
      else if (!(name in peeled)) commit[name] = $1
    }
    END {
      want = (ref ~ /^v[0-9]+$/) ? commit[ref] : ref
      if (want == "") exit
      pat = (ref ~ /^v[0-9]+$/) ? "^" ref "\\.[0-9]+\\.[0-9]+$" : "^v[0-9]+\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.-]+)?$"
      for (name in commit) if (name ~ pat && commit[name] == want) print name
    }' <<<"$tags")
  # A stable release wins over a pre-release of the same commit (v1.3.0
  # over v1.3.0-rc.1, which sort -V puts after it).
  tag=$(grep -E '^v[0-9]+\.[0-9]+\.[0-9]+$' <<<"$matches" | sort -V | tail -n 1 || true)
  if [ -z "$tag" ]; then
    tag=$(sort -V <<<"$matches" | tail -n 1)
  fi
  if [ -z "$tag" ] && [[ $ref =~ ^v ]]; then
    from_source "no stable release $ref.Y.Z of $repo is on the commit of tag $ref"
  elif [ -z "$tag" ]; then
    from_source "no release tag of $repo is on commit $ref"
  fi
  say "$ref is release $tag"
fi

base=${DIFFPERF_RELEASES_URL:-$server/$repo/releases/download}
base=${base%/}
asset=diffperf_linux_$arch
sums=diffperf_${tag}_checksums.txt

mkdir -p "$dest"
# In DEST, so that the final mv is a rename on one file system.
tmp=$(mktemp -d "$dest/.install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

download() {
  local err
  # -q first: no ~/.curlrc. https only, redirects included.
  if ! err=$(curl -q --fail --silent --show-error --location --proto '=https' --proto-redir '=https' \
    --connect-timeout 30 --max-time 300 --retry 3 --retry-delay 2 \
    --output "$tmp/$1" "$base/$tag/$1" 2>&1); then
    warn "cannot download $1 of release $tag from $base/$tag/: $err"
    from_source "release $tag could not be downloaded"
  fi
}
say "downloading $asset and $sums of release $tag from $base/$tag/"
download "$sums"
download "$asset"

want=$(awk -v f="$asset" '($2 == f || $2 == "*" f) && $1 ~ /^[0-9a-f]+$/ { print $1; exit }' "$tmp/$sums")
if [ -z "$want" ]; then
  refuse "$sums of release $tag has no checksum for $asset; refusing to install it"
fi
if command -v sha256sum >/dev/null 2>&1; then
  got=$(sha256sum "$tmp/$asset")
else
  got=$(shasum -a 256 "$tmp/$asset")
fi
got=${got%% *}
if [ "$got" != "$want" ]; then
  refuse "checksum mismatch for $asset of release $tag: $sums says $want, the download has $got; refusing to install it"
fi

chmod 0755 "$tmp/$asset"
if ! v=$("$tmp/$asset" --version 2>&1); then
  refuse "$asset of release $tag does not run here: $v"
fi
# The version line names the commit by its first 12 hex digits.
if [[ $v != *"commit ${commit:0:12}"* ]]; then
  warn "$asset of release $tag says \"$v\", not commit ${commit:0:12} that the action runs from"
  from_source "the release binary is not the build of ${commit:0:12}"
fi
mv -f "$tmp/$asset" "$dest/diffperf"
say "installed $asset of release $tag (sha256 $got) at $dest/diffperf: $v"
output "from-source=false"
