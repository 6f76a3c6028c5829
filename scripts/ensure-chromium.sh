#!/bin/sh
# Installs Debian's `chromium` package for the browser suite (test/browser, driven by playwright-core with the
# system browser; no browser is ever downloaded through npm or Playwright). Idempotent: does nothing when
# /usr/bin/chromium is there already. Needs root, or sudo without a password.
#
#   sh scripts/ensure-chromium.sh          # then: CI=true npx jest --selectProjects browser
set -eu

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  echo "ensure-chromium: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM present")"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=''
elif command -v sudo >/dev/null 2>&1; then
  SUDO='sudo -n'
else
  echo "ensure-chromium: $CHROMIUM is missing and this user cannot install packages (run as root)" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: no apt-get: install Debian's chromium package so that $CHROMIUM exists" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# fonts-dejavu-core: readable text in screenshots on a machine without desktop fonts.
$SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null

if [ ! -x "$CHROMIUM" ]; then
  echo "ensure-chromium: apt-get installed chromium but $CHROMIUM is still missing" >&2
  exit 1
fi
echo "ensure-chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
