#!/usr/bin/env bash
# Build registry-free stand-ins for the public images Courier uses, from
# Debian packages: debootstrap a root file system (bookworm or trixie,
# whichever packages the version we need), install the service into it, and
# `docker import` the tree. For machines that reach a Debian mirror but no
# image registry (our CI).
#
#   courier/rabbitmq:offline     ~ rabbitmq:4.0-management (trixie's 4.0)
#   courier/rabbitmq3:offline    ~ rabbitmq:3.13-management (bookworm's 3.10)
#   courier/postgres:offline     ~ postgres:16 (bookworm's 15, same entrypoint contract)
#   courier/redis:offline        ~ redis:8.0 (trixie's 8.0)
#   courier/python-base:offline  ~ python:3.11-slim-bookworm
#   courier/prometheus:offline   ~ prom/prometheus:v2.53 (trixie's 2.53)
#   courier/pgbouncer:offline    ~ edoburu/pgbouncer (bookworm's 1.18; bring your pgbouncer.ini)
#
# Usage: infra/offline/build-base-images.sh [rabbitmq|rabbitmq3|postgres|redis|python-base|prometheus|pgbouncer ...]
#   (no argument: all of them)
# Environment:
#   DEBIAN_MIRROR            default: the bookworm mirror apt uses on this machine (for both suites)
#   DEBIAN_SECURITY_MIRROR   default: likewise for bookworm-security; "none" skips it
#   COURIER_DEBOOTSTRAP_CACHE  package and root-fs cache (/var/cache/courier-debootstrap)
#   OFFLINE_TAG              the images' tag (offline)
#   FORCE_REBUILD=1          rebuild even when an image with the same inputs exists
#   DOCKER                   docker CLI (docker)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly IMAGES=(rabbitmq rabbitmq3 postgres redis python-base prometheus pgbouncer)
readonly CACHE_DIR="${COURIER_DEBOOTSTRAP_CACHE:-/var/cache/courier-debootstrap}"
readonly FORCE_REBUILD="${FORCE_REBUILD:-0}"
readonly OFFLINE_TAG="${OFFLINE_TAG:-offline}"
readonly DOCKER="${DOCKER:-docker}"
readonly HASH_LABEL=org.courier.offline.inputs-sha256

log() { printf '[base-images] %s\n' "$*" >&2; }
die() { printf '[base-images] error: %s\n' "$*" >&2; exit 1; }

# --- mirror discovery -------------------------------------------------------

# Print the first URI that apt on this machine uses for suite $1 (one-line
# .list entries and deb822 .sources files).
apt_mirror_for_suite() {
  local suite="$1" file
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r "$file" ]] || continue
    awk -v suite="$suite" '
      $1 == "deb" { sub(/^deb[ \t]+(\[[^]]*\][ \t]+)?/, "");
                    split($0, f, /[ \t]+/); if (f[2] == suite) { print f[1]; exit } }
    ' "$file"
  done
  for file in /etc/apt/sources.list.d/*.sources; do
    [[ -r "$file" ]] || continue
    awk -v suite="$suite" '
      BEGIN { RS = ""; FS = "\n" }
      { uris = ""; hit = 0; enabled = 1
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs:[ \t]*/, "", uris) }
          if ($i ~ /^Suites:/) { n = split(substr($i, 8), s, /[ \t]+/)
                                 for (j = 1; j <= n; j++) if (s[j] == suite) hit = 1 }
          if ($i ~ /^Enabled:[ \t]*no/) enabled = 0 }
        if (hit && enabled && uris != "") { split(uris, u, /[ \t]+/); print u[1]; exit } }
    ' "$file"
  done
}

first_line() { head -n 1 || true; }

# The mirrors serve every suite; the machine's apt sources name bookworm's.
resolve_mirrors() {
  DEBIAN_MIRROR="${DEBIAN_MIRROR:-$(apt_mirror_for_suite bookworm | first_line)}"
  DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
  DEBIAN_SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-$(apt_mirror_for_suite bookworm-security | first_line)}"
  DEBIAN_SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
  log "mirror: $DEBIAN_MIRROR (security: $DEBIAN_SECURITY_MIRROR)"
}

# The Debian release whose packages have the version image $1 stands in for.
suite_of() {
  case "$1" in
    rabbitmq | redis | prometheus) echo trixie ;;  # RabbitMQ 4.0; a current Redis, Prometheus
    *) echo bookworm ;;
  esac
}

# The folder of files image $1 is built from, and the shared functions that
# build it (both RabbitMQ images share both).
files_of() {
  case "$1" in
    rabbitmq3) echo "$SCRIPT_DIR/rabbitmq" ;;
    *) echo "$SCRIPT_DIR/$1" ;;
  esac
}
helpers_of() {
  case "$1" in
    rabbitmq | rabbitmq3) echo install_rabbitmq ;;
  esac
}

# --- root file systems ------------------------------------------------------

WORK_DIR=""
BUILD_SUITE=""
MOUNTED=()

cleanup() {
  local m
  for m in "${MOUNTED[@]}"; do umount -l "$m" 2>/dev/null || true; done
  MOUNTED=()
  if [[ -n "$WORK_DIR" && -d "$WORK_DIR" ]]; then
    rm -rf --one-file-system "$WORK_DIR"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_chroot() {
  chroot "$1" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "${@:2}"
}

# Settings every image shares: apt sources, no recommends, no docs.
configure_base_rootfs() {
  local root="$1" suite="$2"
  {
    echo "deb $DEBIAN_MIRROR $suite main"
    echo "deb $DEBIAN_MIRROR $suite-updates main"
    [[ "$DEBIAN_SECURITY_MIRROR" == none ]] || echo "deb $DEBIAN_SECURITY_MIRROR $suite-security main"
  } >"$root/etc/apt/sources.list"
  cat >"$root/etc/apt/apt.conf.d/90courier" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Dpkg::Options { "--force-confdef"; "--force-confold"; };
EOF
  cat >"$root/etc/dpkg/dpkg.cfg.d/90courier-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  # Package scripts must not start services inside the build chroot.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 0755 "$root/usr/sbin/policy-rc.d"
  rm -f "$root"/var/cache/apt/archives/*.deb
}

# A debootstrapped minbase tree of suite $1, made once and kept as a tarball.
base_tarball() {
  local suite="$1" key tarball root
  key="$(printf '%s\n' "$suite" "$(declare -f configure_base_rootfs)" | sha256sum | cut -c1-16)"
  tarball="$CACHE_DIR/rootfs/$suite-minbase-$key.tar"
  if [[ ! -s "$tarball" ]]; then
    log "debootstrap --variant=minbase $suite (packages cached in $CACHE_DIR/debs/$suite)"
    root="$WORK_DIR/minbase-$suite"
    mkdir -p "$CACHE_DIR/debs/$suite" "$CACHE_DIR/rootfs" "$root"
    debootstrap --variant=minbase --cache-dir="$CACHE_DIR/debs/$suite" \
      "$suite" "$root" "$DEBIAN_MIRROR" >"$WORK_DIR/debootstrap.log" 2>&1 \
      || { tail -n 30 "$WORK_DIR/debootstrap.log" >&2; die "debootstrap $suite failed"; }
    configure_base_rootfs "$root" "$suite"
    find "$CACHE_DIR/rootfs" -name "$suite-minbase-*.tar" -delete
    tar --numeric-owner --xattrs --xattrs-include='*' -C "$root" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf --one-file-system "$root"
  fi
  printf '%s\n' "$tarball"
}

# Install packages with apt inside the tree, reusing and refilling the
# host-side .deb cache of the suite being built (BUILD_SUITE).
apt_install() {
  local root="$1"; shift
  local archives="$root/var/cache/apt/archives" debs="$CACHE_DIR/debs/$BUILD_SUITE"
  mkdir -p "$debs"
  find "$debs" -maxdepth 1 -name '*.deb' -exec cp -n --link -t "$archives" {} + 2>/dev/null \
    || find "$debs" -maxdepth 1 -name '*.deb' -exec cp -n -t "$archives" {} +
  { in_chroot "$root" apt-get -q update \
    && in_chroot "$root" apt-get -qy dist-upgrade \
    && in_chroot "$root" apt-get -qy install "$@"; } >"$WORK_DIR/apt.log" 2>&1 \
    || { tail -n 40 "$WORK_DIR/apt.log" >&2; die "apt-get install $* failed"; }
  find "$archives" -maxdepth 1 -name '*.deb' -exec cp -n -t "$debs" {} +
  in_chroot "$root" apt-get clean
}

# Things that must not end up in an image.
finish_rootfs() {
  local root="$1"
  rm -f "$root/usr/sbin/policy-rc.d"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/apt/* \
    "$root"/var/log/dpkg.log "$root"/var/log/alternatives.log "$root"/tmp/* "$root"/root/.cache
  : >"$root/etc/resolv.conf"
  : >"$root/etc/machine-id" 2>/dev/null || true
}

# --- the images -------------------------------------------------------------

customize_python_base() {
  local root="$1"
  # As python:3.11-slim-bookworm: python3 (+ venv/ensurepip), CA roots, useradd.
  apt_install "$root" python3 python3-venv python-is-python3 ca-certificates passwd
  IMPORT_CHANGES=(
    'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    'CMD ["python3"]'
  )
}

# RabbitMQ from the suite's rabbitmq-server package, with the official
# image's contract (see rabbitmq/docker-entrypoint.sh). Both RabbitMQ images.
install_rabbitmq() {
  local root="$1" src="$SCRIPT_DIR/rabbitmq" version
  apt_install "$root" rabbitmq-server
  version="$(in_chroot "$root" dpkg-query -W -f='${Version}' rabbitmq-server)"
  version="${version%%-*}"  # upstream's version, as the official image's RABBITMQ_VERSION
  install -m 0644 "$src/rabbitmq.conf" "$root/etc/rabbitmq/rabbitmq.conf.base"
  install -m 0644 "$src/rabbitmq-env.conf" "$root/etc/rabbitmq/rabbitmq-env.conf"
  install -m 0644 -o 0 -g 0 "$src/enabled_plugins" "$root/etc/rabbitmq/enabled_plugins"
  install -m 0755 "$src/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
  mkdir -p "$root/etc/rabbitmq/conf.d"
  # The entrypoint rewrites rabbitmq.conf from the environment on each start.
  in_chroot "$root" chown rabbitmq:rabbitmq /etc/rabbitmq /var/lib/rabbitmq
  # Each container makes its own Erlang cookie on first start.
  rm -f "$root/var/lib/rabbitmq/.erlang.cookie"
  # CLI tools run by root (docker exec) call the real scripts, not Debian's
  # su wrappers, and find the cookie through HOME or this link (as upstream).
  # Wrappers, not links: the scripts source helpers from their own directory.
  ln -sf /var/lib/rabbitmq/.erlang.cookie "$root/root/.erlang.cookie"
  local tool
  for tool in rabbitmqctl rabbitmq-diagnostics rabbitmq-plugins rabbitmq-queues rabbitmq-streams \
    rabbitmq-upgrade; do
    printf '#!/bin/sh\nexec /usr/lib/rabbitmq/bin/%s "$@"\n' "$tool" >"$root/usr/local/bin/$tool"
    chmod 0755 "$root/usr/local/bin/$tool"
  done
  rm -rf "$root"/var/log/rabbitmq/*
  IMPORT_CHANGES=(
    "ENV LANG=C.UTF-8 HOME=/var/lib/rabbitmq RABBITMQ_NODENAME=rabbit@localhost RABBITMQ_VERSION=$version PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    'VOLUME /var/lib/rabbitmq'
    'EXPOSE 4369 5671 5672 15671 15672 15691 15692 25672'
    'ENTRYPOINT ["docker-entrypoint.sh"]'
    'CMD ["rabbitmq-server"]'
  )
}

customize_rabbitmq() { install_rabbitmq "$1"; }   # trixie: 4.0

customize_rabbitmq3() { install_rabbitmq "$1"; }  # bookworm: 3.10

customize_redis() {
  local root="$1" version
  apt_install "$root" redis-server
  version="$(in_chroot "$root" dpkg-query -W -f='${Version}' redis-server)"
  version="${version#*:}"
  version="${version%%-*}"
  install -m 0755 "$SCRIPT_DIR/redis/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
  install -d -m 0755 -o "$(in_chroot "$root" id -u redis)" -g "$(in_chroot "$root" id -g redis)" \
    "$root/data"
  rm -rf "$root"/var/log/redis/*
  IMPORT_CHANGES=(
    "ENV LANG=C.UTF-8 REDIS_VERSION=$version PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    'VOLUME /data'
    'WORKDIR /data'
    'EXPOSE 6379'
    'ENTRYPOINT ["docker-entrypoint.sh"]'
    'CMD ["redis-server"]'
  )
}

# Prometheus (with promtool) from the suite's package, with prom/prometheus's
# contract: the server as entrypoint and its flags as the command,
# configuration under /etc/prometheus, data in /prometheus, an unprivileged user.
customize_prometheus() {
  local root="$1" version
  apt_install "$root" prometheus
  version="$(in_chroot "$root" dpkg-query -W -f='${Version}' prometheus)"
  version="${version%%+*}"
  install -d -m 0755 -o "$(in_chroot "$root" id -u prometheus)" -g "$(in_chroot "$root" id -g prometheus)" \
    "$root/prometheus"
  rm -rf "$root"/var/lib/prometheus/* "$root"/var/log/prometheus/*
  IMPORT_CHANGES=(
    "ENV LANG=C.UTF-8 PROMETHEUS_VERSION=$version PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    'USER prometheus'
    'VOLUME /prometheus'
    'WORKDIR /prometheus'
    'EXPOSE 9090'
    'ENTRYPOINT ["/usr/bin/prometheus"]'
    'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]'
  )
}

customize_postgres() {
  local root="$1"
  apt_install "$root" postgresql-15
  # Debian creates a "main" cluster on install; the entrypoint makes its own.
  in_chroot "$root" pg_dropcluster 15 main 2>/dev/null || true
  rm -rf "$root/etc/postgresql/15" "$root/var/lib/postgresql/15" "$root"/var/log/postgresql/*
  install -d -m 3777 -o "$(in_chroot "$root" id -u postgres)" -g "$(in_chroot "$root" id -g postgres)" \
    "$root/var/run/postgresql"
  install -m 0755 "$SCRIPT_DIR/postgres/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
  mkdir -p "$root/docker-entrypoint-initdb.d"
  IMPORT_CHANGES=(
    'ENV LANG=C.UTF-8 PG_MAJOR=15 PGDATA=/var/lib/postgresql/data PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    'VOLUME /var/lib/postgresql/data'
    'EXPOSE 5432'
    'ENTRYPOINT ["docker-entrypoint.sh"]'
    'CMD ["postgres"]'
  )
  # `docker import` cannot set STOPSIGNAL; build_image adds it with a
  # one-line build. SIGINT = fast shutdown, as in the official image.
  STOP_SIGNAL=SIGINT
}

# PgBouncer from the suite's package, run as edoburu/pgbouncer runs it: by the
# postgres user, as `pgbouncer /etc/pgbouncer/pgbouncer.ini`. Copy or mount
# your own pgbouncer.ini and userlist.txt there (the package's listens on
# 127.0.0.1 and serves no database).
customize_pgbouncer() {
  local root="$1" version
  apt_install "$root" pgbouncer
  version="$(in_chroot "$root" dpkg-query -W -f='${Version}' pgbouncer)"
  version="${version%%-*}"
  install -d -m 2775 -o "$(in_chroot "$root" id -u postgres)" -g "$(in_chroot "$root" id -g postgres)" \
    "$root/var/run/postgresql"
  rm -rf "$root"/var/log/postgresql/*
  IMPORT_CHANGES=(
    "ENV LANG=C.UTF-8 PGBOUNCER_VERSION=$version PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    'USER postgres'
    'EXPOSE 6432'
    'CMD ["pgbouncer", "/etc/pgbouncer/pgbouncer.ini"]'
  )
}

# Inputs of image $1: the code that builds it and the files it copies.
inputs_hash() {
  local name="$1" customize="customize_${1//-/_}" files
  files="$(files_of "$name")"
  {
    suite_of "$name"
    # shellcheck disable=SC2046  # zero or more function names
    declare -f configure_base_rootfs apt_install finish_rootfs build_image "$customize" \
      $(helpers_of "$name")
    if [[ -d "$files" ]]; then
      find "$files" -type f | LC_ALL=C sort | while read -r f; do
        printf '%s\n' "${f#"$SCRIPT_DIR"/}"; cat "$f"
      done
    fi
  } | sha256sum | cut -d' ' -f1
}

build_image() {
  local name="$1" tag="courier/$1:$OFFLINE_TAG" customize="customize_${1//-/_}"
  local hash existing started root change
  local -a args=()
  started=$SECONDS
  hash="$(inputs_hash "$name")"
  existing="$("$DOCKER" image inspect "$tag" --format "{{ index .Config.Labels \"$HASH_LABEL\" }}" 2>/dev/null || true)"
  if [[ "$existing" == "$hash" && "$FORCE_REBUILD" != 1 ]]; then
    log "$tag is up to date (inputs ${hash:0:12}), skipping"
    return 0
  fi
  log "building $tag (inputs ${hash:0:12})"
  root="$WORK_DIR/$name"
  mkdir -p "$root"
  BUILD_SUITE="$(suite_of "$name")"
  tar --numeric-owner --xattrs --xattrs-include='*' -C "$root" -xf "$(base_tarball "$BUILD_SUITE")"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mount -t proc proc "$root/proc" && MOUNTED+=("$root/proc")
  IMPORT_CHANGES=()
  STOP_SIGNAL=""
  "$customize" "$root"
  umount "$root/proc" && MOUNTED=()
  finish_rootfs "$root"

  for change in "${IMPORT_CHANGES[@]}" \
    "LABEL $HASH_LABEL=$hash" \
    "LABEL org.opencontainers.image.title=courier/$name" \
    "LABEL org.opencontainers.image.description=\"Offline stand-in built from Debian $BUILD_SUITE packages\"" \
    "LABEL org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; do
    args+=(--change "$change")
  done
  tar --numeric-owner --xattrs --xattrs-include='*' -C "$root" \
    --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -c . \
    | "$DOCKER" import "${args[@]}" - "$tag" >/dev/null
  if [[ -n "$STOP_SIGNAL" ]]; then
    printf 'FROM %s\nSTOPSIGNAL %s\n' "$tag" "$STOP_SIGNAL" \
      | DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$tag" - >/dev/null 2>&1 \
      || die "could not set STOPSIGNAL on $tag"
  fi
  rm -rf --one-file-system "$root"
  log "built $tag in $((SECONDS - started))s ($("$DOCKER" image inspect "$tag" --format '{{.Size}}' \
    | awk '{ printf "%d MB", $1 / 1000000 }'))"
}

main() {
  local images=("$@") image total=$SECONDS
  [[ ${#images[@]} -gt 0 ]] || images=("${IMAGES[@]}")
  for image in "${images[@]}"; do
    [[ " ${IMAGES[*]} " == *" $image "* ]] \
      || die "unknown image '$image' (expected one of: ${IMAGES[*]})"
  done
  [[ "$(id -u)" == 0 ]] || die "must run as root (debootstrap, chroot and mount need it); try: sudo $0"
  command -v debootstrap >/dev/null || die "debootstrap is missing; install it with: apt-get install debootstrap"
  command -v "$DOCKER" >/dev/null || die "docker CLI '$DOCKER' not found"
  "$DOCKER" info >/dev/null 2>&1 || die "cannot reach the Docker engine ('$DOCKER info' failed); is dockerd running?"
  resolve_mirrors
  mkdir -p "$CACHE_DIR/debs" "$CACHE_DIR/rootfs" "$CACHE_DIR/tmp"
  # One run at a time per cache (its builds share the .deb and root-fs caches).
  exec 9>"$CACHE_DIR/.lock"
  flock -n 9 || { log "waiting for another build using $CACHE_DIR"; flock 9; }
  # One lane per Debian suite, the lanes side by side: a suite's images share
  # its caches (built one after another), two suites share nothing, and most
  # of a build waits on the mirror or the disk, not on a core.
  local -A lanes=()
  local suite pid failed=0
  local -a pids=()
  for image in "${images[@]}"; do
    suite="$(suite_of "$image")"
    lanes[$suite]+="$image "
  done
  for suite in "${!lanes[@]}"; do
    # shellcheck disable=SC2086  # the lane's images, one word each
    build_lane ${lanes[$suite]} &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do
    wait "$pid" || failed=1
  done
  [[ $failed == 0 ]] || die "a build failed (see its lines above)"
  log "done in $((SECONDS - total))s"
}

# Build images $@ one after another, in a work directory of this lane's own
# (on the cache's file system, so cached .debs can be hard-linked).
build_lane() {
  (
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    WORK_DIR="$(mktemp -d "$CACHE_DIR/tmp/build.XXXXXX")"
    local image
    for image in "$@"; do
      build_image "$image"
    done
  )
}

main "$@"
