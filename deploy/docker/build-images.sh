#!/bin/sh
# Builds every image the compose cluster runs, without an image registry:
#   onsale-base:bookworm      Debian bookworm minbase, debootstrapped and `docker import`ed
#                             (skipped when the image exists; needs root and debootstrap)
#   onsale-postgres:15        Debian's postgresql-15
#   onsale-redis:7.0          Debian's redis-server (cluster-capable)
#   onsale-haproxy:2.6        Debian's haproxy
#   onsale-prometheus:2.42    Debian's prometheus
#   onsale:local              the project (Dockerfile): Debian's python3 + requirements.lock
# The host's CA bundle is copied into each build, so apt and pip inside trust what the host
# trusts. Usage: deploy/docker/build-images.sh [--only NAME ...]   (NAME: base postgres redis
# haproxy prometheus onsale). Environment: DEBIAN_MIRROR, CA_BUNDLE, BASE_IMAGE.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
BASE_IMAGE=${BASE_IMAGE:-onsale-base:bookworm}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
only="$*"
only=${only#--only }

wanted() { [ -z "$only" ] || case " $only " in *" $1 "*) true ;; *) false ;; esac; }
say() { printf 'build-images: %s\n' "$*"; }
# docker build, its output kept in a log shown only when the build fails.
docker_build() {
    log=$(mktemp)
    if ! docker build "$@" >"$log" 2>&1; then cat "$log"; rm -f "$log"; exit 1; fi
    rm -f "$log"
}
timed() {
    started=$(date +%s)
    "$@"
    say "  done in $(( $(date +%s) - started )) s"
}

[ -r "$CA_BUNDLE" ] || { say "no CA bundle at $CA_BUNDLE (set CA_BUNDLE)"; exit 2; }

build_base() {
    if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        say "$BASE_IMAGE exists, not rebuilt (docker rmi it to rebuild)"
        return
    fi
    command -v debootstrap >/dev/null || { say "debootstrap is missing (apt-get install debootstrap)"; exit 2; }
    rootfs=$(mktemp -d /var/tmp/onsale-base.XXXXXX)
    say "debootstrap bookworm (minbase) into $rootfs from $DEBIAN_MIRROR"
    debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$DEBIAN_MIRROR" >"$rootfs.log" 2>&1 \
        || { say "debootstrap failed, see $rootfs.log"; exit 1; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$BASE_IMAGE"
    rm -rf "$rootfs" "$rootfs.log"
}

# Infrastructure images: a build context of just the CA bundle and the Postgres entrypoint.
build_infra() {
    target=$1 tag=$2
    context=$(mktemp -d)
    cp "$CA_BUNDLE" "$context/ca-certificates.crt"
    cp "$here/postgres-entrypoint.sh" "$context/"
    say "$tag (Debian's $target)"
    docker_build --build-arg BASE="$BASE_IMAGE" --target "$target" -t "$tag" \
        -f "$here/infra.Dockerfile" "$context"
    rm -rf "$context"
}

build_onsale() {
    trap 'rm -f "$here/ca-certificates.crt"' EXIT
    cp "$CA_BUNDLE" "$here/ca-certificates.crt"
    say "onsale:local (Dockerfile: Debian python3 + requirements.lock)"
    docker_build --build-arg BASE="$BASE_IMAGE" -t onsale:local "$repo"
    rm -f "$here/ca-certificates.crt"
}

if wanted base; then timed build_base; fi
if wanted postgres; then timed build_infra postgres onsale-postgres:15; fi
if wanted redis; then timed build_infra redis onsale-redis:7.0; fi
if wanted haproxy; then timed build_infra haproxy onsale-haproxy:2.6; fi
if wanted prometheus; then timed build_infra prometheus onsale-prometheus:2.42; fi
if wanted onsale; then timed build_onsale; fi
say "images: $(docker images --format '{{.Repository}}:{{.Tag}}' | grep -E '^onsale' | sort | tr '\n' ' ')"
