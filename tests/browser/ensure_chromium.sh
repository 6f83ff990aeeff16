#!/bin/sh
# Make the system Chromium available for tests/browser (Playwright drives it; no browser is
# ever downloaded). Idempotent and quiet: does nothing when /usr/bin/chromium exists, installs
# Debian's package when run as root with apt-get, and otherwise says why the browser tests
# will be skipped. Never fails the caller: a missing browser skips those tests, it is not an error.
set -u
CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_chromium: $CHROMIUM missing and cannot install it (needs root and apt-get);" \
       "browser tests will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq chromium >/dev/null 2>&1; then
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get install -y -qq chromium >/dev/null 2>&1 || true
fi
if [ ! -x "$CHROMIUM" ]; then
  echo "ensure_chromium: installing chromium failed; browser tests will be skipped" >&2
fi
exit 0
