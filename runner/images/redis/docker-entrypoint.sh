#!/bin/sh
# Entry point of backend-kit/redis: the behaviour of the official redis image's entry point.
#
#   docker run IMAGE                            # redis-server on 0.0.0.0:6379, protected mode off
#   docker run IMAGE redis-server --save ''     # arguments are passed through
#   docker run IMAGE --maxmemory 100mb          # options (or a *.conf file) go to redis-server
#
# Started as root, it gives the working directory (/data) to redis and re-executes itself as redis.
set -e

# First argument is an option (`--port 1234`) or a configuration file (`/etc/redis.conf`).
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"
fi

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' +
    export HOME=/var/lib/redis USER=redis LOGNAME=redis
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

if [ "$1" = redis-server ]; then
    # The official image compiles Redis with protected mode off (the container is the boundary);
    # Debian's Redis has it on, so turn it off here, before the user's options so that they win.
    shift
    if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
        conf=$1
        shift
        if [ -r "$conf" ] && grep -qiE '^[[:space:]]*protected-mode[[:space:]]' "$conf"; then
            set -- redis-server "$conf" "$@"
        else
            set -- redis-server "$conf" --protected-mode no "$@"
        fi
    else
        set -- redis-server --protected-mode no "$@"
    fi
fi

# Files Redis writes (dump.rdb, appendonly files) are private unless the caller chose a umask.
um=$(umask)
if [ "$um" = 0022 ]; then
    umask 0077
fi

exec "$@"
