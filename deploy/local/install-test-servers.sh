#!/bin/sh
# Installs the servers the integration tests need that PyPI does not package (Dovecot, for IMAP).
# Idempotent, and never fails the caller: without root or apt-get it says what is missing and
# exits 0, and the tests that need the server skip with a clear reason.
set -u

if command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]; then
    echo "install-test-servers: dovecot already installed, nothing to do"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-servers: dovecot missing and not running as root; IMAP tests will skip"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-servers: dovecot missing and apt-get unavailable; IMAP tests will skip"
    exit 0
fi

echo "install-test-servers: installing dovecot-imapd with apt-get"
export DEBIAN_FRONTEND=noninteractive
if apt-get update -q && apt-get install -y -q --no-install-recommends dovecot-imapd; then
    # The package starts a system-wide Dovecot where an init system exists; the tests start
    # their own on a free port, so the system one is not needed.
    if command -v service >/dev/null 2>&1; then
        service dovecot stop >/dev/null 2>&1 || true
    fi
    echo "install-test-servers: installed $(dovecot --version 2>/dev/null || echo dovecot)"
else
    echo "install-test-servers: apt-get could not install dovecot-imapd; IMAP tests will skip"
fi
exit 0
