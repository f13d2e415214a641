#!/usr/bin/env bash
# Install Debian's Chromium and chromedriver for the browser tests (tests/test_browser.py).
# `playwright install` cannot download browsers here, so Playwright drives /usr/bin/chromium.
# fonts-wqy-zenhei: a CJK font so the Chinese report renders in screenshots (system font, not
# an external web font).
# Idempotent: does nothing when /usr/bin/chromium and a CJK font are already there.
set -euo pipefail

have_cjk_font() { command -v fc-list >/dev/null 2>&1 && [[ -n "$(fc-list :lang=zh 2>/dev/null)" ]]; }

if [[ -x /usr/bin/chromium ]] && have_cjk_font; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-browser.sh: need root (or sudo) to apt-get install chromium" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-wqy-zenhei

if [[ ! -x /usr/bin/chromium ]]; then
    echo "install-browser.sh: apt-get finished but /usr/bin/chromium is missing" >&2
    exit 1
fi
echo "installed: $(/usr/bin/chromium --version)"
