#!/usr/bin/env bash
# Entry point of backend-kit/postgres: the behaviour of the official postgres image's entry point.
#
#   docker run -e POSTGRES_PASSWORD=secret IMAGE                  # initdb on first start, then postgres
#   docker run -e POSTGRES_PASSWORD=secret IMAGE -c fsync=off     # options go to postgres
#
# Honoured: POSTGRES_PASSWORD, POSTGRES_USER (postgres), POSTGRES_DB ($POSTGRES_USER), PGDATA,
# POSTGRES_HOST_AUTH_METHOD, POSTGRES_INITDB_ARGS, POSTGRES_INITDB_WALDIR, the *_FILE variants of the
# POSTGRES_* variables, and scripts in /docker-entrypoint-initdb.d (*.sh, *.sql, *.sql.gz, *.sql.xz,
# *.sql.zst). Started as root, it prepares the directories and re-executes itself as `postgres`.
set -Eeo pipefail

# VAR_FILE=/path sets VAR to the file's contents (Docker secrets).
file_env() {
    local var=$1 file_var="${1}_FILE" default=${2:-}
    if [[ -n ${!var:-} && -n ${!file_var:-} ]]; then
        printf >&2 'error: both %s and %s are set (but are exclusive)\n' "$var" "$file_var"
        exit 1
    fi
    local value=$default
    if [[ -n ${!var:-} ]]; then
        value=${!var}
    elif [[ -n ${!file_var:-} ]]; then
        value=$(<"${!file_var}")
    fi
    export "$var"="$value"
    unset "$file_var"
}

setup_env() {
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_USER postgres
    file_env POSTGRES_DB "$POSTGRES_USER"
    file_env POSTGRES_INITDB_ARGS
    : "${POSTGRES_HOST_AUTH_METHOD:=}"
    DATABASE_ALREADY_EXISTS=
    if [[ -s $PGDATA/PG_VERSION ]]; then
        DATABASE_ALREADY_EXISTS=true
    fi
}

create_db_directories() {
    mkdir -p "$PGDATA"
    chmod 00700 "$PGDATA" || :
    mkdir -p /var/run/postgresql || :
    chmod 03775 /var/run/postgresql || :
    if [[ -n ${POSTGRES_INITDB_WALDIR:-} ]]; then
        mkdir -p "$POSTGRES_INITDB_WALDIR"
        if [[ $(id -u) == 0 ]]; then
            find "$POSTGRES_INITDB_WALDIR" \! -user postgres -exec chown postgres '{}' +
        fi
        chmod 700 "$POSTGRES_INITDB_WALDIR"
    fi
    if [[ $(id -u) == 0 ]]; then
        find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
        find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
    fi
}

verify_minimum_env() {
    if [[ -z $POSTGRES_PASSWORD && $POSTGRES_HOST_AUTH_METHOD != trust ]]; then
        cat >&2 <<-'EOE'
			Error: Database is uninitialized and superuser password is not specified.
			       You must specify POSTGRES_PASSWORD to a non-empty value for the
			       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

			       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
			       connections without a password. This is *not* recommended.
		EOE
        exit 1
    fi
    if [[ $POSTGRES_HOST_AUTH_METHOD == trust ]]; then
        echo 'WARNING: POSTGRES_HOST_AUTH_METHOD=trust: every connection is accepted without a password.' >&2
    fi
}

init_database_dir() {
    if [[ -n ${POSTGRES_INITDB_WALDIR:-} ]]; then
        set -- --waldir "$POSTGRES_INITDB_WALDIR" "$@"
    fi
    # POSTGRES_INITDB_ARGS is word-split like a shell command line, as in the official image.
    eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") '"$POSTGRES_INITDB_ARGS"' "$@"'
}

setup_hba_conf() {
    [[ ${1:-} == postgres ]] && shift
    local auth
    # The password hashing postgres will use (scram-sha-256 unless overridden with -c).
    auth=$(postgres -C password_encryption "$@")
    : "${POSTGRES_HOST_AUTH_METHOD:=$auth}"
    {
        printf '\n'
        if [[ $POSTGRES_HOST_AUTH_METHOD == trust ]]; then
            printf '# warning trust is enabled for all connections\n'
        fi
        printf 'host all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD"
    } >>"$PGDATA/pg_hba.conf"
}

process_sql() {
    local runner=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
    if [[ -n $POSTGRES_DB ]]; then
        runner+=(--dbname "$POSTGRES_DB")
    fi
    PGHOST='' PGHOSTADDR='' "${runner[@]}" "$@"
}

temp_server_start() {
    [[ ${1:-} == postgres ]] && shift
    # Unix socket only, so nothing outside the container sees the server before it is initialised.
    set -- "$@" -c listen_addresses='' -p "${PGPORT:-5432}"
    PGUSER="${PGUSER:-$POSTGRES_USER}" pg_ctl -D "$PGDATA" -o "$(printf '%q ' "$@")" -w start
}

temp_server_stop() {
    PGUSER="${PGUSER:-postgres}" pg_ctl -D "$PGDATA" -m fast -w stop
}

setup_db() {
    local exists db=$POSTGRES_DB
    exists=$(POSTGRES_DB='' process_sql --dbname postgres --set db="$db" --tuples-only <<-'EOSQL'
		SELECT 1 FROM pg_database WHERE datname = :'db' ;
	EOSQL
    )
    if [[ -z $exists ]]; then
        POSTGRES_DB='' process_sql --dbname postgres --set db="$db" <<-'EOSQL'
			CREATE DATABASE :"db" ;
		EOSQL
        echo
    fi
}

process_init_files() {
    local f
    echo
    for f; do
        case $f in
            *.sh)
                if [[ -x $f ]]; then
                    echo "$0: running $f"
                    "$f"
                else
                    echo "$0: sourcing $f"
                    # shellcheck disable=SC1090
                    . "$f"
                fi
                ;;
            *.sql) echo "$0: running $f"; process_sql -f "$f"; echo ;;
            *.sql.gz) echo "$0: running $f"; gunzip -c "$f" | process_sql; echo ;;
            *.sql.xz) echo "$0: running $f"; xzcat "$f" | process_sql; echo ;;
            *.sql.zst) echo "$0: running $f"; zstd -dc "$f" | process_sql; echo ;;
            *) echo "$0: ignoring $f" ;;
        esac
        echo
    done
}

want_help() {
    local arg
    for arg; do
        case $arg in
            -'?' | --help | --describe-config | -V | --version) return 0 ;;
        esac
    done
    return 1
}

main() {
    # `docker run IMAGE -c fsync=off`: options for postgres.
    if [[ ${1:0:1} == - ]]; then
        set -- postgres "$@"
    fi

    if [[ $1 == postgres ]] && ! want_help "$@"; then
        setup_env
        create_db_directories
        if [[ $(id -u) == 0 ]]; then
            # Drop root: the server and initdb run as the postgres user.
            export HOME=/var/lib/postgresql USER=postgres LOGNAME=postgres
            exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
        fi

        if [[ -z $DATABASE_ALREADY_EXISTS ]]; then
            verify_minimum_env
            # Fail early if the init directory is unreadable (e.g. a bad bind mount).
            ls /docker-entrypoint-initdb.d/ >/dev/null
            init_database_dir
            setup_hba_conf "$@"
            export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
            temp_server_start "$@"
            setup_db
            shopt -s nullglob
            process_init_files /docker-entrypoint-initdb.d/*
            shopt -u nullglob
            temp_server_stop
            unset PGPASSWORD
            echo
            echo 'PostgreSQL init process complete; ready for start up.'
            echo
        else
            echo
            echo 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
            echo
        fi
    fi

    exec "$@"
}

main "$@"
