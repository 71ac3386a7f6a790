#!/usr/bin/env bash
# Installs what the test suite needs and is not an npm package: Debian's
# redis-server (cluster rate limits), apache2-utils (real `htpasswd -B`),
# chromium (dashboard and OIDC browser tests), systemd (systemd-analyze verify),
# and promtool from Debian's prometheus package (metrics lint, alert rules):
# the package is unpacked into .cache/test-tools/prometheus, never installed,
# so no Prometheus service is configured or started.
# Idempotent: does nothing when everything is present.
set -euo pipefail
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  echo "[test-setup] installing from Debian: ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The tests find promtool here (test/observe/promtool.ts).
PROMTOOL_DIR=".cache/test-tools/prometheus"
if [ ! -x "$PROMTOOL_DIR/usr/bin/promtool" ]; then
  echo "[test-setup] unpacking promtool from Debian's prometheus package into $PROMTOOL_DIR"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  dl="$(mktemp -d)"
  # apt-get download drops privileges to _apt, which cannot write to a root-only mktemp dir.
  chmod 777 "$dl"
  (cd "$dl" && apt-get download -qq prometheus 2>/dev/null) || { $SUDO apt-get update -qq && (cd "$dl" && apt-get download -qq prometheus); }
  mkdir -p "$PROMTOOL_DIR"
  dpkg-deb -x "$dl"/prometheus_*.deb "$PROMTOOL_DIR"
  rm -rf "$dl"
  # Only promtool is kept: nothing here can start a Prometheus server.
  rm -f "$PROMTOOL_DIR/usr/bin/prometheus"
  "$PROMTOOL_DIR/usr/bin/promtool" --version >/dev/null
fi
if [ ! -d node_modules ]; then npm ci; fi
echo "[test-setup] ok"
