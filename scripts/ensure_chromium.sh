#!/usr/bin/env bash
# Make sure Debian's Chromium is there for the browser tests (tests/browser/).
# Installs it when run as root on a machine with apt; otherwise says why not and exits 0
# (the browser tests then skip with the same reason, except under CI=true where they fail).
set -uo pipefail
CHROMIUM="${ALMAVIEW_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  echo "ensure_chromium: $CHROMIUM is there ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "ensure_chromium: no Chromium at $CHROMIUM and not root: the browser tests will be skipped." >&2
  echo "  install it (Debian/Ubuntu: sudo apt-get install chromium) or set ALMAVIEW_CHROMIUM." >&2
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "ensure_chromium: no Chromium at $CHROMIUM and no apt-get here: the browser tests will be skipped." >&2
  exit 0
fi
echo "ensure_chromium: installing Debian's chromium with apt-get"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; then
  apt-get update >/dev/null && apt-get install -y --no-install-recommends chromium >/dev/null \
    || { echo "ensure_chromium: apt-get install chromium failed: the browser tests will be skipped." >&2; exit 0; }
fi
echo "ensure_chromium: $("$CHROMIUM" --version)"
