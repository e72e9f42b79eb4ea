#!/bin/bash
# Entrypoint of the lab's `db` image (Debian PostgreSQL standing in for TimescaleDB). It honours
# the official postgres image's contract so the same Compose service works with either image:
#   POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE (required unless POSTGRES_HOST_AUTH_METHOD=trust),
#   POSTGRES_USER (default postgres), POSTGRES_DB (default: the user), PGDATA,
#   POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD (default scram-sha-256),
#   /docker-entrypoint-initdb.d/*.sql and *.sh run once, on the first start.
# Started as root it fixes the data directory's owner and re-executes itself as `postgres`.
set -Eeuo pipefail

# VAR or VAR_FILE (a Docker/Compose secret), never both.
file_env() {
	local var="$1" file_var="${1}_FILE" default="${2:-}"
	if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
		echo "db-entrypoint: set either $var or $file_var, not both" >&2
		exit 1
	fi
	local value="$default"
	if [ -n "${!var:-}" ]; then
		value="${!var}"
	elif [ -n "${!file_var:-}" ]; then
		value="$(<"${!file_var}")"
	fi
	export "$var"="$value"
	unset "$file_var"
}

if [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi

if [ "$1" = 'postgres' ] && [ "$(id -u)" = '0' ]; then
	mkdir -p "$PGDATA" /var/run/postgresql
	chown -R postgres:postgres "$PGDATA" /var/run/postgresql
	chmod 700 "$PGDATA"
	HOME=/var/lib/postgresql exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ "$1" = 'postgres' ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
	file_env POSTGRES_PASSWORD
	file_env POSTGRES_USER postgres
	file_env POSTGRES_DB "$POSTGRES_USER"
	file_env POSTGRES_INITDB_ARGS
	auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != 'trust' ]; then
		echo "db-entrypoint: the database is uninitialised and no password is set:" \
			"set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE (or POSTGRES_HOST_AUTH_METHOD=trust)" >&2
		exit 1
	fi
	# shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of words, as in the official image
	initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
		--encoding=UTF8 --locale=C.UTF-8 $POSTGRES_INITDB_ARGS
	printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"

	# First-start scripts run against a server that listens on the socket only.
	pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -p 5432" start
	export PGUSER="$POSTGRES_USER" PGPASSWORD="$POSTGRES_PASSWORD" PGHOST=/var/run/postgresql
	if [ "$POSTGRES_DB" != 'postgres' ]; then
		# Through stdin: psql interpolates :"db" (quoted identifier) there, not in -c.
		psql -v ON_ERROR_STOP=1 --dbname postgres --set db="$POSTGRES_DB" >/dev/null <<<'CREATE DATABASE :"db";'
	fi
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
		*.sh) echo "db-entrypoint: running $f" && . "$f" ;;
		*.sql) echo "db-entrypoint: running $f" && psql -v ON_ERROR_STOP=1 --dbname "$POSTGRES_DB" -f "$f" ;;
		*) ;;
		esac
	done
	pg_ctl -D "$PGDATA" -m fast -w stop
	unset PGPASSWORD
	echo "db-entrypoint: initialised $PGDATA for user $POSTGRES_USER, database $POSTGRES_DB"
fi

exec "$@"
