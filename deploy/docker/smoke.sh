#!/bin/sh
# The newcomer flow against the production images, on Docker, from nothing: builds the images
# (on a local Debian base when no registry is reachable), brings docker-compose.yml up in
# production mode, creates an agency, a key and a patrol mailbox, submits a report, and waits
# for its case and its alert email. Slow (minutes on two cores); not part of ./dev test.
#   sh deploy/docker/smoke.sh            (KEEP=1 leaves the stack running)
# Needs: docker (an engine), docker-compose or `docker compose`, curl, python3; root for
# debootstrap when the base images are built locally (deploy/docker/build-base.sh).
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PROJECT=${PROJECT:-pantau-smoke}
PORT=${PANTAU_HTTP_PORT:-18080}
AGENCY=bawaslu-3375
MAILBOX=patroli@pekalongankota.bawaslu.go.id
WORK=$(mktemp -d)

if docker compose version >/dev/null 2>&1; then compose() { docker compose -p "$PROJECT" "$@"; }
else compose() { docker-compose -p "$PROJECT" "$@"; }; fi
# Passed or not, the stack goes (KEEP=1 leaves it up to look at).
cleanup() {
    rm -rf "$WORK"
    if [ "${KEEP:-0}" != 1 ]; then compose down -v >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }
wait_for() { # seconds description command...
    deadline=$(( $(date +%s) + $1 )); what=$2; shift 2
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || { echo "timed out waiting for $what"; compose logs --tail=40; exit 1; }
        sleep 2
    done
}

if [ -z "${PANTAU_BASE_IMAGE:-}" ]; then
    # No registry: a Debian base built here, and stand-ins for nats, postgres, redis, mail and
    # the collector built on it.
    step "base images (debootstrap, docker import)"
    sh deploy/docker/build-base.sh
    export PANTAU_BASE_IMAGE=pantau-base:bookworm
    step "stand-in images for the third-party services"
    cp deploy/docker/local-images/* "$WORK/"
    cp .venv/bin/nats-server "$WORK/nats-server"
    for target in nats postgres redis mail otel; do
        DOCKER_BUILDKIT=0 docker build -q --target "$target" -t "pantau-local/$target:smoke" "$WORK" >/dev/null
    done
    export NATS_IMAGE=pantau-local/nats:smoke POSTGRES_IMAGE=pantau-local/postgres:smoke \
        REDIS_IMAGE=pantau-local/redis:smoke MAIL_IMAGE=pantau-local/mail:smoke \
        OTEL_COLLECTOR_IMAGE=pantau-local/otel:smoke
fi

step "secrets"
sh deploy/docker/make-secrets.sh
export PANTAU_PUBLIC_URL=https://pantau.smoke.example.go.id PANTAU_HTTP_PORT=$PORT
export PANTAU_VERSION=smoke COMPOSE_PROFILES=local-mail

step "images and services (docker-compose up --build)"
started=$(date +%s)
DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0 compose up -d --build
wait_for 300 "the gateway to be ready" curl -fsS "http://127.0.0.1:$PORT/readyz"
for service in intake triage notify; do
    wait_for 300 "$service to be healthy" sh -c \
        "docker inspect -f '{{.State.Health.Status}}' \$(docker ps -qf name=${PROJECT}_${service}_ -f name=${PROJECT}-${service}-) | grep -qx healthy"
done
echo "ready $(( $(date +%s) - started ))s after up"

step "agency, key and patrol mailbox"
compose run --rm -T gateway create-agency --id "$AGENCY" --name "Bawaslu Kota Pekalongan" --kind bawaslu --region 33.75
KEY=$(compose run --rm -T gateway add-key --agency "$AGENCY" --label smoke | tr -d '\r' | grep -o 'pk_[A-Za-z0-9_-]*' | tail -1)
[ -n "$KEY" ] || { echo "no API key printed"; exit 1; }
compose run --rm -T notify add-subscription --agency "$AGENCY" --name "Patroli siber" \
    --email "$MAILBOX" --region 33.75 --min-priority 0

step "a report"
api() { curl -fsS -H "X-API-Key: $KEY" "$@"; }
api -X POST "http://127.0.0.1:$PORT/v1/reports" -H 'Content-Type: application/json' -d '{
  "text": "Besok pagi serangan fajar di Kelurahan Podosugih, tiap rumah dapat amplop 100 ribu",
  "url": "https://www.facebook.com/groups/123/posts/456", "region_code": "33.75"}' > "$WORK/report.json"
cat "$WORK/report.json"; echo
REPORT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["report_id"])' "$WORK/report.json")
field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get(sys.argv[2]) or "")' "$@"; }
has_case() { api "http://127.0.0.1:$PORT/v1/reports/$REPORT" > "$WORK/r.json" && [ -n "$(field "$WORK/r.json" case_id)" ]; }
wait_for 60 "the report's case" has_case
CASE=$(field "$WORK/r.json" case_id)
api "http://127.0.0.1:$PORT/v1/cases/$CASE"; echo
sent() { api "http://127.0.0.1:$PORT/v1/cases/$CASE/notifications" > "$WORK/n.json" && grep -q '"sent"' "$WORK/n.json"; }
wait_for 60 "the alert to be sent" sent
cat "$WORK/n.json"; echo
mailed() { compose logs mail | grep -qi "^.*To: .*$MAILBOX"; }
wait_for 30 "the alert in the mailbox" mailed
compose logs mail | grep -m4 -iE "^.*(Subject|To|Message-ID):" || true
compose logs otel-collector | grep -m3 "/v1/traces" || echo "(no spans at the collector yet)"

echo
echo "smoke passed: report $REPORT, case $CASE, alert sent and received; $(( $(date +%s) - started ))s after up"
