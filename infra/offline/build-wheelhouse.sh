#!/usr/bin/env bash
# Fill infra/build/wheelhouse/ with a wheel for every pinned requirement of
# the service images, so that `docker build --build-arg PIP_NO_INDEX=1`
# needs no package index (docker build cannot reach one on our CI).
#
#   wheelhouse/         third-party wheels of web, worker, shared_contracts,
#                       the smtp-sink, the S3 test server and the build
#                       backend (hatchling)
#   wheelhouse/local/   wheels of the three local packages (not copied into
#                       images: the Dockerfiles build them from source)
#
# Quick when nothing changed: if every lock resolves from the wheelhouse
# alone and the local sources are unchanged, nothing is downloaded or built.
# The wheels are for the interpreter that runs pip: use CPython 3.11 on
# x86_64 Linux with glibc <= 2.36 (Debian 12), like the images.
#
# Environment: PYTHON (.venv/bin/python, else python3), WHEELHOUSE
# (infra/build/wheelhouse), FORCE_REBUILD=1 (rebuild local wheels).
set -euo pipefail

# PIP_NO_INDEX=1 in the caller's environment is meant for the image builds
# (see infra/images.mk); fetching wheels needs the index.
unset PIP_NO_INDEX

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly REPO_ROOT
cd "$REPO_ROOT"

readonly WHEELHOUSE="${WHEELHOUSE:-infra/build/wheelhouse}"
readonly PIP_VENV=infra/build/pip-venv
readonly LOCKS=(
  shared_contracts/requirements.lock
  web/requirements.lock
  worker/requirements.lock
  infra/smtp-sink/requirements.lock
  infra/s3-server/requirements.lock
  infra/offline/build-system.lock
)
readonly LOCAL_PACKAGES=(shared_contracts web worker)

log() { printf '[wheelhouse] %s\n' "$*" >&2; }
die() { printf '[wheelhouse] error: %s\n' "$*" >&2; exit 1; }

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" .venv/bin/python python3; do
    [[ -n "$candidate" ]] && command -v "$candidate" >/dev/null && { echo "$candidate"; return; }
  done
  die "no Python found; set PYTHON"
}

# A pip for that interpreter: its own, or one in a helper venv (uv-made
# venvs have none).
setup_pip() {
  local python="$1"
  "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
    || die "$python is not Python 3.11; the images run 3.11, so their wheels must match (set PYTHON)"
  if "$python" -m pip --version >/dev/null 2>&1; then
    PIP_PYTHON="$python"
  else
    if [[ ! -x "$PIP_VENV/bin/pip" ]]; then
      log "creating $PIP_VENV (pip for $python)"
      "$python" -m venv "$PIP_VENV"
    fi
    PIP_PYTHON="$PIP_VENV/bin/python"
  fi
  PIP=("$PIP_PYTHON" -m pip --disable-pip-version-check)
}

# The pins of lock $1 that any CPython 3.11.x on this platform installs,
# without their markers: the images' Python is not the host's (Debian's
# python3 is 3.11.2, so e.g. "async-timeout ; python_full_version < '3.11.3'"
# applies there). Workspace members (-e ./x, ./x) are built apart.
target_requirements() {
  "$PIP_PYTHON" - "$1" <<'PY'
import sys
from pip._vendor.packaging.markers import default_environment
from pip._vendor.packaging.requirements import Requirement

environments = [
    {**default_environment(), "python_version": "3.11", "python_full_version": f"3.11.{patch}"}
    for patch in range(30)
]
with open(sys.argv[1], encoding="utf-8") as lock:
    for line in lock:
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-", ".", "/", "file:")):
            continue
        requirement = Requirement(line)
        if requirement.marker is None or any(requirement.marker.evaluate(e) for e in environments):
            requirement.marker = None
            print(requirement)
PY
}

# Whether every pin of lock $1 has its wheel in the wheelhouse.
complete_offline() {
  "${PIP[@]}" install --quiet --dry-run --ignore-installed --no-deps --no-index \
    --find-links "$WHEELHOUSE" -r <(target_requirements "$1") >/dev/null 2>&1
}

fetch_third_party() {
  local lock missing=0
  for lock in "${LOCKS[@]}"; do
    [[ -f "$lock" ]] || die "$lock is missing"
    if complete_offline "$lock"; then
      continue
    fi
    missing=1
    log "third-party wheels: fetching $lock"
    # The lock is the whole closure: --no-deps fetches exactly its pins.
    # pip wheel saves published wheels as they are and builds the rest from sdists.
    "${PIP[@]}" wheel --quiet --no-deps --wheel-dir "$WHEELHOUSE" --find-links "$WHEELHOUSE" \
      -r <(target_requirements "$lock")
    complete_offline "$lock" || die "$lock still lacks wheels in $WHEELHOUSE"
  done
  if [[ $missing == 0 ]]; then
    log "third-party wheels: up to date"
  fi
  log "third-party wheels: $(find "$WHEELHOUSE" -maxdepth 1 -name '*.whl' | wc -l) in $WHEELHOUSE"
}

sources_hash() {
  find "$@" -type f \( -path '*/__pycache__/*' -o -path '*/.pytest_cache/*' -o -path '*/tests/*' \
    -o -name '*.sqlite3' -o -name '*.pyc' \) -prune -o -type f -print \
    | LC_ALL=C sort | xargs -d '\n' sha256sum | sha256sum | cut -d' ' -f1
}

build_local() {
  local local_dir="$WHEELHOUSE/local" stamp hash pkg
  local -a sources=()
  stamp="$local_dir/.sources-sha256"
  for pkg in "${LOCAL_PACKAGES[@]}"; do sources+=("$pkg/pyproject.toml" "$pkg/src"); done
  hash="$(sources_hash "${sources[@]}")"
  if [[ "${FORCE_REBUILD:-0}" != 1 && -f "$stamp" && "$(cat "$stamp")" == "$hash" ]]; then
    log "local wheels: up to date"
    return
  fi
  log "local wheels: building ${LOCAL_PACKAGES[*]}"
  rm -rf "$local_dir"
  mkdir -p "$local_dir"
  # The build backend comes from the wheelhouse, so this works offline too.
  "${PIP[@]}" wheel --quiet --no-deps --no-index --find-links "$WHEELHOUSE" \
    --wheel-dir "$local_dir" "${LOCAL_PACKAGES[@]/#/./}"
  echo "$hash" >"$stamp"
}

main() {
  local started=$SECONDS python
  python="$(find_python)"
  setup_pip "$python"
  mkdir -p "$WHEELHOUSE"
  fetch_third_party
  build_local
  log "done in $((SECONDS - started))s: $WHEELHOUSE ($(du -sh "$WHEELHOUSE" | cut -f1))"
}

main "$@"
