#!/usr/bin/env bash
# Build backend-kit's service images locally, from Debian packages, without any container registry.
#
#   images/build-local.sh            build what is missing (exits at once if the images are current)
#   images/build-local.sh --force    rebuild the images (reuses the cached Debian root filesystem)
#   images/build-local.sh --refresh  also re-run debootstrap (fresh packages and security updates)
#
# How: debootstrap a minimal Debian bookworm with python3, PostgreSQL 15 and Redis 7 into a temporary
# directory, `docker import` it as the base image, then `docker build` three thin images on top of it
# (images/postgres, images/redis, images/python), whose entry points honour the same environment
# variables as the official postgres:15, redis:7 and python:3.11 images. The root filesystem tarball is
# cached under ${XDG_CACHE_HOME:-~/.cache}/backend-kit/, keyed by the package list and the recipe
# below, so a second run does not download anything.
#
# Environment:
#   BACKEND_KIT_IMAGE_PREFIX    repository prefix of the four images (default backend-kit)
#   BACKEND_KIT_BASE_IMAGE      base image      (default $PREFIX/base:bookworm)
#   BACKEND_KIT_POSTGRES_IMAGE  postgres image  (default $PREFIX/postgres:15)
#   BACKEND_KIT_REDIS_IMAGE     redis image     (default $PREFIX/redis:7)
#   BACKEND_KIT_PYTHON_IMAGE    python image    (default $PREFIX/python:3.11)
#   BACKEND_KIT_DEBIAN_MIRROR   Debian mirror   (default: read from the machine's apt sources)
#   BACKEND_KIT_SECURITY_MIRROR Debian security mirror (default: read from the machine's apt sources)
#   BACKEND_KIT_SECURITY_UPDATES=0  skip `apt-get upgrade` from bookworm-updates/-security (faster)
set -euo pipefail

readonly SUITE=bookworm
readonly PACKAGES=(
    ca-certificates locales tzdata
    python3 python-is-python3 python3-pip python3-venv
    postgresql-15 postgresql-client-15
    redis-server redis-tools
)

PREFIX=${BACKEND_KIT_IMAGE_PREFIX:-backend-kit}
BASE_IMAGE=${BACKEND_KIT_BASE_IMAGE:-$PREFIX/base:bookworm}
POSTGRES_IMAGE=${BACKEND_KIT_POSTGRES_IMAGE:-$PREFIX/postgres:15}
REDIS_IMAGE=${BACKEND_KIT_REDIS_IMAGE:-$PREFIX/redis:7}
PYTHON_IMAGE=${BACKEND_KIT_PYTHON_IMAGE:-$PREFIX/python:3.11}
SECURITY_UPDATES=${BACKEND_KIT_SECURITY_UPDATES:-1}
CACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/backend-kit
LOG_DIR=$CACHE_DIR/logs
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
START=$SECONDS

log() { printf '==> [%3ss] %s\n' "$((SECONDS - START))" "$*"; }
die() { printf 'build-local.sh: error: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

FORCE=0
REFRESH=0
for arg in "$@"; do
    case $arg in
        --force) FORCE=1 ;;
        --refresh) FORCE=1; REFRESH=1 ;;
        -h | --help) usage; exit 0 ;;
        *) printf 'build-local.sh: unknown argument: %s (see --help)\n' "$arg" >&2; exit 2 ;;
    esac
done

# ---------------------------------------------------------------------------------------------------
# Helpers

image_label() {  # image label -> value ("" if the image or the label is missing)
    docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

# First URI of the machine's apt sources that serves suite $1, or "" (deb822 *.sources and one-line
# *.list / sources.list formats).
apt_source_uri() {
    local suite=$1 file
    shopt -s nullglob
    for file in /etc/apt/sources.list.d/*.sources; do
        awk -v want="$suite" '
            function flush() {
                if (deb && !off && uri != "") for (i = 1; i <= n; i++) if (s[i] == want) { print uri; found = 1; exit }
                deb = 0; off = 0; uri = ""; n = 0
            }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
            tolower($1) == "uris:" { uri = $2 }
            tolower($1) == "suites:" { n = 0; for (i = 2; i <= NF; i++) s[++n] = $i }
            tolower($1) == "enabled:" && tolower($2) == "no" { off = 1 }
            END { if (!found) flush() }
        ' "$file"
    done
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -r $file ]] || continue
        # deb [options] uri suite components...
        sed -E 's/#.*//; s/\[[^]]*\]//' "$file" | awk -v want="$suite" '$1 == "deb" && $3 == want { print $2 }'
    done
    shopt -u nullglob
}

ensure_debootstrap() {
    command -v debootstrap >/dev/null && return
    [[ $(id -u) == 0 ]] || die "debootstrap is missing and this is not root: run 'sudo apt-get install debootstrap'"
    log "installing debootstrap (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    # Wait for a concurrent apt/dpkg instead of failing on its lock.
    local apt=(apt-get -q -o DPkg::Lock::Timeout=300)
    if ! apt-cache show debootstrap >/dev/null 2>&1 || ! "${apt[@]}" install -y debootstrap; then
        "${apt[@]}" update
        "${apt[@]}" install -y debootstrap
    fi
}

# Unmount whatever is still mounted under $1 (deepest first).
unmount_under() {
    local dir=$1 mnt
    while read -r mnt; do
        umount "$mnt" 2>/dev/null || umount -l "$mnt"
    done < <(awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r)
}

WORK_DIR=
cleanup() {
    [[ -n $WORK_DIR && -d $WORK_DIR ]] || return 0
    unmount_under "$WORK_DIR"
    if awk -v d="$WORK_DIR" 'index($2, d "/") == 1 { found = 1 } END { exit !found }' /proc/mounts; then
        echo "build-local.sh: warning: mounts remain under $WORK_DIR, not deleting it" >&2
    else
        rm -rf --one-file-system "$WORK_DIR"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------------
# The root filesystem recipe. Its text is part of the cache key: editing it invalidates the cache.

build_rootfs() {
    local rootfs=$1 mirror=$2 security_mirror=$3 arch=$4
    local include
    include=$(IFS=,; echo "${PACKAGES[*]}")

    log "debootstrap stage 1: downloading $SUITE (minbase + ${#PACKAGES[@]} packages) from $mirror"
    mkdir -p "$CACHE_DIR/debs"
    debootstrap --variant=minbase --foreign --arch="$arch" --include="$include" \
        --cache-dir="$CACHE_DIR/debs" "$SUITE" "$rootfs" "$mirror" >"$LOG_DIR/debootstrap-stage1.log" 2>&1 ||
        { tail -n 30 "$LOG_DIR/debootstrap-stage1.log" >&2; die "debootstrap stage 1 failed (log above)"; }

    # Before any package is configured: never create Debian's default cluster (the entry point runs
    # initdb itself), and do not unpack documentation. (Stage 2 blocks service starts on its own.)
    mkdir -p "$rootfs/etc/postgresql-common/createcluster.d" "$rootfs/etc/dpkg/dpkg.cfg.d" "$rootfs/etc/apt/apt.conf.d"
    echo 'create_main_cluster = false' >"$rootfs/etc/postgresql-common/createcluster.d/backend-kit.conf"
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/backend-kit-nodoc" <<'EOF'
# Keep images small: no documentation, manual pages or translations (copyright files are kept).
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    # No fsync after every unpacked file while building (removed again below): much faster on overlays.
    echo force-unsafe-io >"$rootfs/etc/dpkg/dpkg.cfg.d/backend-kit-build-unsafe-io"
    # The same apt settings as the official debian images.
    cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    echo 'Acquire::GzipIndexes "true";' >"$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
    echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
    echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"

    log "debootstrap stage 2: installing packages"
    DEBIAN_FRONTEND=noninteractive LC_ALL=C chroot "$rootfs" /debootstrap/debootstrap --second-stage \
        >"$LOG_DIR/debootstrap-stage2.log" 2>&1 ||
        { tail -n 30 "$LOG_DIR/debootstrap-stage2.log" >&2; die "debootstrap stage 2 failed (log above)"; }
    unmount_under "$rootfs"
    # Debootstrap removes its own policy-rc.d at the end of stage 2. Containers have no init system:
    # package scripts must never start services, now (upgrade below) or later in the image.
    printf '#!/bin/sh\n# Containers have no init system: package scripts must not start services.\nexit 101\n' \
        >"$rootfs/usr/sbin/policy-rc.d"
    chmod 755 "$rootfs/usr/sbin/policy-rc.d"

    rm -f "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security_mirror
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

    if [[ $SECURITY_UPDATES == 1 ]]; then
        log "applying $SUITE-updates and $SUITE-security updates (BACKEND_KIT_SECURITY_UPDATES=0 skips this)"
        # Only the update suites: `upgrade` never needs bookworm's own index, the big one.
        sed "s/^Suites: $SUITE $SUITE-updates\$/Suites: $SUITE-updates/" \
            "$rootfs/etc/apt/sources.list.d/debian.sources" >"$rootfs/tmp/updates.sources"
        grep -q "^Suites: $SUITE-updates\$" "$rootfs/tmp/updates.sources"
        mount -t proc proc "$rootfs/proc"
        DEBIAN_FRONTEND=noninteractive LC_ALL=C chroot "$rootfs" sh -ec '
            set -- -o Dir::Etc::SourceList=/tmp/updates.sources -o Dir::Etc::SourceParts=/nonexistent
            apt-get "$@" update -qq
            apt-get "$@" upgrade -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold
        ' >"$LOG_DIR/upgrade.log" 2>&1 ||
            { tail -n 30 "$LOG_DIR/upgrade.log" >&2; die "apt-get upgrade in the new root failed (log above)"; }
        grep -E '^[0-9]+ upgraded,' "$LOG_DIR/upgrade.log" | sed 's/^/    /' || true
        umount "$rootfs/proc"
    fi

    log "generating the en_US.UTF-8 locale (as the official postgres image does)"
    LC_ALL=C chroot "$rootfs" localedef -i en_US -c -f UTF-8 -A /usr/share/locale/locale.alias en_US.UTF-8

    log "cleaning caches, documentation and host files"
    LC_ALL=C chroot "$rootfs" apt-get clean
    # A cluster, if a package script created one anyway, and the snake-oil TLS key made at install time.
    rm -rf "$rootfs"/etc/postgresql/*/main "$rootfs"/var/lib/postgresql/*/main
    rm -f "$rootfs/etc/ssl/private/ssl-cert-snakeoil.key" "$rootfs/etc/ssl/certs/ssl-cert-snakeoil.pem"
    rm -f "$rootfs/etc/dpkg/dpkg.cfg.d/backend-kit-build-unsafe-io"
    rm -rf "$rootfs/debootstrap" "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
        "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/lib/dpkg/*-old "$rootfs"/tmp/* "$rootfs"/var/tmp/* \
        "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/lintian/*
    find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
    find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
    find "$rootfs/var/log" -type f -delete
    # Docker provides these at run time; do not ship the build machine's.
    : >"$rootfs/etc/resolv.conf"
    echo localhost >"$rootfs/etc/hostname"
    rm -f "$rootfs/etc/machine-id" "$rootfs/var/lib/dbus/machine-id"
}

# ---------------------------------------------------------------------------------------------------
# Keys: the base key changes with the package list or the recipe, the image recipe key also with the
# Dockerfiles and entry points.

ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)
BASE_KEY=$( { echo "$SUITE $ARCH security=$SECURITY_UPDATES"; printf '%s\n' "${PACKAGES[@]}"; declare -f build_rootfs; } |
    sha256sum | cut -c1-16)
recipe_key() {  # service -> key
    { echo "$BASE_KEY"; find "$HERE/$1" -type f -print0 | sort -z | xargs -0 sha256sum | sed "s|$HERE/||"; } |
        sha256sum | cut -c1-16
}

command -v docker >/dev/null || die "docker is not installed"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "cannot reach the Docker engine (is it running? are you in the docker group?)"

declare -A IMAGES=([postgres]=$POSTGRES_IMAGE [redis]=$REDIS_IMAGE [python]=$PYTHON_IMAGE)
readonly SERVICES=(postgres redis python)

all_current() {
    local svc
    for svc in "${SERVICES[@]}"; do
        [[ $(image_label "${IMAGES[$svc]}" backend-kit.recipe) == "$(recipe_key "$svc")" ]] || return 1
    done
}

print_summary() {
    local ref
    printf '\n%-40s %10s\n' IMAGE SIZE
    for ref in "$BASE_IMAGE" "$POSTGRES_IMAGE" "$REDIS_IMAGE" "$PYTHON_IMAGE"; do
        printf '%-40s %10s\n' "$ref" "$(docker image ls --format '{{.Size}}' "$ref" | head -n1)"
    done
    echo "(the three service images share the base image's layer; its size is counted once on disk)"
}

if [[ $FORCE == 0 ]] && all_current; then
    log "images are up to date (use --force to rebuild, --refresh to also re-download packages)"
    print_summary
    exit 0
fi

# Image IDs this run may replace; once untagged they are removed at the end.
OLD_IDS=()
for ref in "${IMAGES[@]}" "$BASE_IMAGE"; do
    OLD_IDS+=("$(docker image inspect --format '{{.Id}}' "$ref" 2>/dev/null || true)")
done

mkdir -p "$CACHE_DIR" "$LOG_DIR"
exec 9>"$CACHE_DIR/.lock"
flock -w 900 9 || die "another build-local.sh has held $CACHE_DIR/.lock for 15 minutes"

# ---------------------------------------------------------------------------------------------------
# 1. The base image.

TARBALL=$CACHE_DIR/rootfs-$SUITE-$ARCH-$BASE_KEY.tar
if [[ $FORCE == 0 && $(image_label "$BASE_IMAGE" backend-kit.base-key) == "$BASE_KEY" ]]; then
    log "base image $BASE_IMAGE is current (key $BASE_KEY)"
else
    if [[ $REFRESH == 1 || ! -s $TARBALL ]]; then
        [[ $(id -u) == 0 ]] || die "debootstrap needs root: run this script with sudo"
        ensure_debootstrap
        MIRROR=${BACKEND_KIT_DEBIAN_MIRROR:-$(apt_source_uri "$SUITE" | head -n1)}
        MIRROR=${MIRROR:-http://deb.debian.org/debian}
        SECURITY_MIRROR=${BACKEND_KIT_SECURITY_MIRROR:-$(apt_source_uri "$SUITE-security" | head -n1)}
        SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
        WORK_DIR=$(mktemp -d "${TMPDIR:-/var/tmp}/backend-kit-rootfs.XXXXXX")
        build_rootfs "$WORK_DIR/rootfs" "$MIRROR" "$SECURITY_MIRROR" "$ARCH"
        log "packing the root filesystem into $TARBALL"
        tar --numeric-owner --one-file-system -C "$WORK_DIR/rootfs" \
            --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' -cf "$TARBALL.tmp" .
        mv -f "$TARBALL.tmp" "$TARBALL"
        cleanup
        WORK_DIR=
    else
        log "using the cached root filesystem $TARBALL ($(du -h "$TARBALL" | cut -f1), made $(date -r "$TARBALL" '+%F %R'))"
    fi
    # Older tarballs are for other package lists or recipes.
    find "$CACHE_DIR" -maxdepth 1 -name 'rootfs-*.tar*' -not -name "${TARBALL##*/}" -delete
    log "importing $BASE_IMAGE"
    docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' \
        --change "LABEL backend-kit.base-key=$BASE_KEY" \
        --message "backend-kit: debootstrap $SUITE minbase + ${PACKAGES[*]}" \
        "$TARBALL" "$BASE_IMAGE" >/dev/null
fi

# ---------------------------------------------------------------------------------------------------
# 2. The thin service images.

# Built in parallel: with the legacy builder on fuse-overlayfs, every step costs about two seconds of
# waiting on the engine, not of CPU.
build_args=()
[[ $FORCE == 1 ]] && build_args+=(--no-cache)
declare -A PIDS=()
for svc in "${SERVICES[@]}"; do
    log "building ${IMAGES[$svc]} from images/$svc/Dockerfile (log: $LOG_DIR/build-$svc.log)"
    docker build "${build_args[@]}" \
        --build-arg "BASE_IMAGE=$BASE_IMAGE" \
        --label "backend-kit.recipe=$(recipe_key "$svc")" \
        -t "${IMAGES[$svc]}" "$HERE/$svc" >"$LOG_DIR/build-$svc.log" 2>&1 &
    PIDS[$svc]=$!
done
failed=()
for svc in "${SERVICES[@]}"; do
    if ! wait "${PIDS[$svc]}"; then
        tail -n 30 "$LOG_DIR/build-$svc.log" >&2
        failed+=("${IMAGES[$svc]}")
    fi
done
[[ ${#failed[@]} == 0 ]] || die "docker build failed for: ${failed[*]} (logs above)"

# Previous versions of the images, if nothing tags them any more (and no container uses them).
for id in "${OLD_IDS[@]}"; do
    if [[ -n $id && -z $(docker image inspect --format '{{join .RepoTags ""}}' "$id" 2>/dev/null || echo gone) ]]; then
        docker image rm "$id" >/dev/null 2>&1 || true
    fi
done

log "done in $((SECONDS - START))s"
print_summary
