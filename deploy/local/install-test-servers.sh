#!/bin/sh
# Installs what the tests need that PyPI does not package: Dovecot (the IMAP tests) and Debian's
# Chromium with its chromedriver (the console's browser test). Idempotent, and never fails the
# caller: without root or apt-get it says what is missing and exits 0, and the tests that need it
# skip with a clear reason.
set -u

# "binary package" pairs: the package is installed when its binary is missing.
wanted="/usr/sbin/dovecot:dovecot-imapd /usr/bin/chromium:chromium /usr/bin/chromedriver:chromium-driver"
missing=""
for pair in $wanted; do
    [ -x "${pair%%:*}" ] || missing="$missing ${pair#*:}"
done

if [ -z "$missing" ]; then
    echo "install-test-servers: dovecot, chromium and chromedriver already installed, nothing to do"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-servers:$missing missing and not running as root; the tests that need them will skip"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-servers:$missing missing and apt-get unavailable; the tests that need them will skip"
    exit 0
fi

echo "install-test-servers: installing$missing with apt-get"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086 # one word per package
if apt-get update -q && apt-get install -y -q --no-install-recommends $missing; then
    # The package starts a system-wide Dovecot where an init system exists; the tests start
    # their own on a free port, so the system one is not needed.
    if command -v service >/dev/null 2>&1; then
        service dovecot stop >/dev/null 2>&1 || true
    fi
    echo "install-test-servers: installed$missing"
else
    echo "install-test-servers: apt-get could not install$missing; the tests that need them will skip"
fi
exit 0
