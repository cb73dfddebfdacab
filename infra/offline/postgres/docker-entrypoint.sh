#!/usr/bin/env bash
# Entrypoint of courier/postgres:offline: the official postgres image's
# contract on top of Debian's postgresql package.
#   POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust),
#   POSTGRES_USER (postgres), POSTGRES_DB (= user), PGDATA, POSTGRES_INITDB_ARGS,
#   POSTGRES_HOST_AUTH_METHOD (scram-sha-256), *_FILE variants of the first three,
#   scripts in /docker-entrypoint-initdb.d (*.sh, *.sql, *.sql.gz) on first start.
# The first start logs "database system is ready to accept connections" twice,
# like the official image: once from the temporary server that runs the init
# scripts (stdout, via pg_ctl), once from the real server (stderr).
set -Eeuo pipefail

log() { printf 'entrypoint: %s\n' "$*"; }

# VAR_FILE=path sets VAR from a file (Docker secrets).
file_env() {
  local var="$1" file_var="${1}_FILE" default="${2:-}"
  if [[ -n "${!var:-}" && -n "${!file_var:-}" ]]; then
    log "error: both $var and $file_var are set (but are exclusive)" >&2
    exit 1
  fi
  local value="$default"
  if [[ -n "${!var:-}" ]]; then
    value="${!var}"
  elif [[ -n "${!file_var:-}" ]]; then
    value="$(<"${!file_var}")"
  fi
  export "$var"="$value"
  unset "$file_var"
}

as_root_prepare_and_drop() {
  mkdir -p "$PGDATA" /var/run/postgresql
  chmod 0700 "$PGDATA"
  chown -R postgres:postgres "$PGDATA"
  chown postgres:postgres /var/run/postgresql
  chmod 3777 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups \
    env HOME=/var/lib/postgresql "${BASH_SOURCE[0]}" "$@"
}

init_database() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  local auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  if [[ -z "$POSTGRES_PASSWORD" && "$auth" != trust ]]; then
    cat >&2 <<'EOF'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".
       (Or POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without one.)
EOF
    exit 1
  fi

  local -a initdb_args=(--username="$POSTGRES_USER" -D "$PGDATA" --encoding=UTF8
    --locale=C.UTF-8 --auth-local=trust --auth-host="$auth")
  # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of words, as upstream
  if [[ -n "$POSTGRES_PASSWORD" ]]; then
    initdb "${initdb_args[@]}" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") ${POSTGRES_INITDB_ARGS:-}
  else
    initdb "${initdb_args[@]}" ${POSTGRES_INITDB_ARGS:-}
  fi
  printf 'host all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"
  printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

  # A temporary server on the Unix socket only: clients polling the TCP
  # port see it closed until initialisation is complete.
  PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
  local -a psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
  if [[ "$POSTGRES_DB" != postgres ]]; then
    "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  local f
  shopt -s nullglob
  for f in /docker-entrypoint-initdb.d/*; do
    # shellcheck disable=SC1090  # sourcing the image user's scripts
    case "$f" in
      *.sh) log "running $f"; if [[ -x "$f" ]]; then "$f"; else . "$f"; fi ;;
      *.sql) log "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) log "running $f"; gunzip -c "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" ;;
      *) log "ignoring $f" ;;
    esac
  done
  shopt -u nullglob
  PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -m fast -w stop
  log 'PostgreSQL init process complete; ready for start up.'
}

export PGDATA="${PGDATA:-/var/lib/postgresql/data}"

# `docker run IMAGE -c setting=value` means `postgres -c setting=value`.
if [[ "${1:-}" == -* ]]; then
  set -- postgres "$@"
fi

if [[ "${1:-}" == postgres ]]; then
  if [[ "$(id -u)" == 0 ]]; then
    as_root_prepare_and_drop "$@"
  fi
  if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    init_database
  else
    log 'PostgreSQL database directory appears to contain a database; skipping initialization'
  fi
  unset POSTGRES_PASSWORD
fi

exec "$@"
