#!/bin/sh
# Writes the single-host deployment's secrets as files under deploy/docker/secrets/ (ignored by
# git), one per variable, random where nobody chose one. An existing file is kept, so a second
# run changes nothing (and never locks the services out of their database).
#   sh deploy/docker/make-secrets.sh
set -eu
cd "$(dirname "$0")"
umask 077
mkdir -p secrets
random() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
keep() { # name value
    [ -s "secrets/$1" ] || printf '%s' "$2" > "secrets/$1"
}
keep postgres_password "$(random)"
keep redis_password "$(random)"
keep nats_pantau_password "$(random)"
keep nats_sys_password "$(random)"
keep PANTAU_ACK_LINK_SECRET "$(random)"
keep PANTAU_GATEWAY_API_KEY_PEPPER "$(random)"
keep PANTAU_INTAKE_REPORTER_PEPPER "$(random)"
keep PANTAU_DATABASE_URL "postgresql://pantau:$(cat secrets/postgres_password)@postgres:5432/pantau"
keep PANTAU_REDIS_URL "redis://:$(cat secrets/redis_password)@redis:6379/0"
keep PANTAU_NATS_URL "nats://pantau:$(cat secrets/nats_pantau_password)@nats:4222"
keep nats-auth.conf "PANTAU_PASSWORD: \"$(cat secrets/nats_pantau_password)\"
SYS_PASSWORD: \"$(cat secrets/nats_sys_password)\"
"
# The containers run as their own users (10001, postgres, redis, nats): they must read the files
# mounted into them; the directory stays closed to other users of the host.
chmod 700 secrets
chmod 644 secrets/*
echo "secrets in $(pwd)/secrets"
