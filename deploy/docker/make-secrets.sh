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
# Reporters' contacts cross the bus sealed to intake's X25519 key (docs/reporter-contacts.md):
# intake keeps the private key (a JSON list, so a key can be rotated), the gateway the public one.
if [ ! -s secrets/PANTAU_INTAKE_REPORTER_PRIVATE_KEYS ]; then
    # PKCS#8 DER of an X25519 key ends with the 32 raw bytes of the key; the public key's DER too.
    private=$(openssl genpkey -algorithm X25519 -outform DER | tail -c 32 | base64)
    printf '["%s"]' "$private" > secrets/PANTAU_INTAKE_REPORTER_PRIVATE_KEYS
    rm -f secrets/PANTAU_GATEWAY_REPORTER_PUBLIC_KEY
fi
if [ ! -s secrets/PANTAU_GATEWAY_REPORTER_PUBLIC_KEY ]; then
    # The public key of the first (current) private key.
    first=$(sed 's/^\["\([^"]*\)".*/\1/' secrets/PANTAU_INTAKE_REPORTER_PRIVATE_KEYS)
    x25519_der='\060\056\002\001\000\060\005\006\003\053\145\156\004\042\004\040'
    { printf "$x25519_der"; printf '%s' "$first" | base64 -d; } \
        | openssl pkey -inform DER -pubout -outform DER | tail -c 32 | base64 \
        | tr -d '\n' > secrets/PANTAU_GATEWAY_REPORTER_PUBLIC_KEY
fi
# Case evidence bundles are signed with intake's Ed25519 key (docs/evidence.md); its public half,
# for `pantau-evidence verify --public-key`, is what the agency publishes.
if [ ! -s secrets/PANTAU_INTAKE_EVIDENCE_BUNDLE_SIGNING_KEY ]; then
    openssl genpkey -algorithm ED25519 -out secrets/PANTAU_INTAKE_EVIDENCE_BUNDLE_SIGNING_KEY
    rm -f secrets/evidence-bundle-public-key.pem
fi
if [ ! -s secrets/evidence-bundle-public-key.pem ]; then
    openssl pkey -in secrets/PANTAU_INTAKE_EVIDENCE_BUNDLE_SIGNING_KEY -pubout -out secrets/evidence-bundle-public-key.pem
fi
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
