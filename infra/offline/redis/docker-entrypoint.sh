#!/usr/bin/env bash
# Entrypoint of courier/redis:offline: the official redis image's contract on
# top of Debian's redis-server package. `redis-server [options]` (or options
# alone) runs as the redis user in /data; without a config file, protected
# mode is off so that other containers may connect (as upstream: the image
# is meant for private networks; set a password for anything else).
set -euo pipefail

if [[ "${1:-}" == -* || "${1:-}" == *.conf ]]; then
  set -- redis-server "$@"
fi

if [[ "${1:-}" == redis-server ]]; then
  config_given=false
  for arg in "${@:2}"; do
    [[ "$arg" == *.conf || "$arg" == --protected-mode ]] && config_given=true
  done
  if [[ "$config_given" == false ]]; then
    set -- "$@" --protected-mode no
  fi
  if [[ "$(id -u)" == 0 ]]; then
    chown -R redis:redis /data
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
  fi
fi

exec "$@"
