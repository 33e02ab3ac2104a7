#!/usr/bin/env bash
# Installs what the HTML report test (tests/audit_html.rs) needs, idempotently: headless Chromium
# (Debian package `chromium`, without recommended packages), which renders report.html, dumps its
# DOM and takes a screenshot.
set -euo pipefail
if ! command -v chromium >/dev/null; then
  sudo_=""
  [ "$(id -u)" -ne 0 ] && sudo_="sudo"
  $sudo_ apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
    || { $sudo_ apt-get update -qq >/dev/null && $sudo_ apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
fi
chromium --version
echo "html/install: done"
