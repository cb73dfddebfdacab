#!/usr/bin/env bash
# Entrypoint of courier/rabbitmq:offline: the official rabbitmq image's
# contract (RABBITMQ_DEFAULT_USER/_PASS/_VHOST, logs on stdout, the server
# runs as the rabbitmq user) on top of Debian's rabbitmq-server package.
set -euo pipefail

readonly CONF=/etc/rabbitmq/rabbitmq.conf
readonly SERVER=/usr/lib/rabbitmq/bin/rabbitmq-server

write_config() {
  {
    cat "$CONF.base"
    echo
    echo "# From the container's environment (used when the node's database is created)."
    echo "default_user = ${RABBITMQ_DEFAULT_USER:-guest}"
    echo "default_pass = ${RABBITMQ_DEFAULT_PASS:-guest}"
    echo "default_vhost = ${RABBITMQ_DEFAULT_VHOST:-/}"
  } >"$CONF.tmp"
  chmod 0640 "$CONF.tmp"
  mv "$CONF.tmp" "$CONF"
}

# The node's Erlang cookie, made before the node starts: otherwise a
# `docker exec ... rabbitmqctl` (root) racing the first start creates it,
# owned by root, and the node cannot read it.
ensure_cookie() {
  local cookie=/var/lib/rabbitmq/.erlang.cookie
  if [[ ! -s "$cookie" ]]; then
    # shellcheck disable=SC2019  # ASCII capitals, as Erlang makes them
    (umask 077 && LC_ALL=C tr -dc 'A-Z' </dev/urandom | head -c 20 >"$cookie") || true
  fi
}

if [[ "${1:-}" == rabbitmq-server ]]; then
  shift
  if [[ "$(id -u)" == 0 ]]; then
    write_config
    ensure_cookie
    chown rabbitmq:rabbitmq "$CONF"
    chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
    exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups \
      env HOME=/var/lib/rabbitmq "$SERVER" "$@"
  fi
  if [[ -w /etc/rabbitmq ]]; then
    write_config
  fi
  ensure_cookie
  exec "$SERVER" "$@"
fi

exec "$@"
