#!/bin/sh
# Builds the base images locally, for machines that reach Debian's archive but no image registry:
#   pantau-base:bookworm   Debian bookworm (minbase) with python3 and venv: the Dockerfile's base
#   pantau-infra:bookworm  the same with PostgreSQL, Redis and ca-certificates, for compose
# Run as root (debootstrap); needs `debootstrap` and a running Docker engine.
#   sh deploy/docker/build-base.sh [WORKDIR]
set -eu
WORK=${1:-/var/tmp/pantau-base}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$WORK"

build() { # name, packages
    name=$1 packages=$2
    if docker image inspect "$name" >/dev/null 2>&1; then
        echo "$name exists"
        return
    fi
    root="$WORK/$(echo "$name" | tr ':/' '__')"
    if [ ! -x "$root/usr/bin/python3" ]; then
        rm -rf "$root"
        debootstrap --variant=minbase --include="$packages" bookworm "$root" "$MIRROR"
    fi
    # Certificate authorities the host adds (a proxy that inspects TLS) are trusted in the image
    # too, or pip and uv cannot reach the package index from a build.
    if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
        cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
        chroot "$root" update-ca-certificates >/dev/null
    fi
    # An image holds no apt lists or caches; they only make it bigger.
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
    tar -C "$root" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["/bin/sh"]' - "$name"
}

build pantau-base:bookworm python3,python3-venv,ca-certificates
build pantau-infra:bookworm python3,python3-venv,ca-certificates,postgresql-15,redis-server,curl
docker image ls 'pantau-*'
