#!/usr/bin/env bash
# Build the "next" web and worker images: this source tree with one contract
# change applied (next-contract.patch), for the rolling-deploy tests in
# tests_integration/deploy/. The change:
#
#   user.registered.v1 revision 2   a new optional field, registered_via, set by
#                                   the web and read by the worker (welcome email)
#   user.registered.v2              a new major version, published by the web
#                                   beside v1 and read by the worker
#
# The tree is copied as `make images` sees it (tracked files and new ones not
# ignored, with their uncommitted changes, plus the wheelhouse), patched, and
# built with the same Dockerfiles (infra/images.mk), so the two sets differ by
# the patch alone. Run through `make images-next`, which passes the image
# variables (PYTHON_BASE_IMAGE, PIP_NO_INDEX, ...) on to the build.
#
# Environment: WEB_NEXT_IMAGE, WORKER_NEXT_IMAGE (required), MAKE (make).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
readonly REPO_ROOT
readonly HERE="$REPO_ROOT/infra/deploy/next-contract"
readonly PATCH="$HERE/next-contract.patch"
: "${WEB_NEXT_IMAGE:?set WEB_NEXT_IMAGE (make images-next does)}"
: "${WORKER_NEXT_IMAGE:?set WORKER_NEXT_IMAGE (make images-next does)}"

log() { printf '[images-next] %s\n' "$*" >&2; }

cd "$REPO_ROOT"
# Under infra/build (ignored by git, excluded from the build context of the
# normal images): the same file system, so the wheelhouse is hard-linked.
mkdir -p infra/build
tree="$(mktemp -d infra/build/next-contract.XXXXXX)"
trap 'rm -rf "$REPO_ROOT/$tree"' EXIT

log "copying the source tree to $tree"
git ls-files -z --cached --others --exclude-standard -- . ':!:infra/build' \
  | while IFS= read -r -d '' path; do
      # A tracked file deleted in the working tree is not part of what `make images` sees.
      [[ -e "$path" || -L "$path" ]] && printf '%s\0' "$path"
    done \
  | rsync -a --from0 --files-from=- ./ "$tree/"
if [[ -d infra/build/wheelhouse ]]; then
  mkdir -p "$tree/infra/build"
  cp -al infra/build/wheelhouse "$tree/infra/build/wheelhouse"
fi

log "applying $(basename "$PATCH")"
# Refuses (and fails the build) when the source moved under the patch: then
# the patch is regenerated against the new source, never applied half-way.
patch --directory="$tree" --strip=1 --forward --batch --no-backup-if-mismatch --quiet <"$PATCH"

log "building $WEB_NEXT_IMAGE and $WORKER_NEXT_IMAGE"
"${MAKE:-make}" --no-print-directory -C "$tree" -f infra/images.mk image-web image-worker \
  WEB_IMAGE="$WEB_NEXT_IMAGE" WORKER_IMAGE="$WORKER_NEXT_IMAGE" \
  IMAGE_VCS_REF="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)-next-contract"
