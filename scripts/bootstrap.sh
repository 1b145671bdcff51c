#!/usr/bin/env bash
# Installs the system packages tvilling builds and tests against, when they are missing.
# Debian/Ubuntu; uses sudo when not root. Idempotent and quiet when everything is there.
set -euo pipefail

# chromium: the headless browser the CesiumJS tileset and viewer checks (tools/cesium-check) run in;
# openssl: the CLI the OIDC tests make their identity provider's RSA keys with.
# wrk, nginx, libsqlite3-mod-spatialite: the serving benchmark (benches/benches/serve_vs_peers.rs) loads
# tvilling and its peers with wrk, runs its own nginx on a loopback port, and pygeoapi's GeoPackage provider
# needs SpatiaLite. mosquitto: the MQTT tests start their own broker on a loopback port.
packages=(libgdal-dev libproj-dev proj-data gdal-bin libclang-dev pkg-config chromium openssl wrk nginx libsqlite3-mod-spatialite mosquitto)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}" >&2
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "bootstrap: cargo is not installed; install Rust from https://rustup.rs (1.95 or newer) and re-run" >&2
  exit 2
fi

# Reference validators the tests run against, installed from their pinned package-lock.json files:
# tools/validators (glTF-Validator for glb tile content) and tools/cesium-check (CesiumJS + playwright-core,
# which load tilesets and the viewer in the Debian chromium installed above).
tools="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tools"
for entry in validators:gltf-validator cesium-check:cesium cesium-check:playwright-core; do
  dir="$tools/${entry%%:*}"
  if [ ! -d "$dir/node_modules/${entry#*:}" ]; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "bootstrap: installing nodejs npm" >&2
      sudo=""
      if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
      $sudo apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm >&2
    fi
    echo "bootstrap: installing the pinned npm packages in tools/${entry%%:*}" >&2
    (cd "$dir" && npm ci --silent --no-audit --no-fund >&2)
  fi
done

# OWSLib, the Python OGC client the OGC API Features test consumes the server with, and
# openapi-spec-validator, which checks /api/openapi.json (web/tests/http/owslib.rs), in a venv outside the
# repository.
owslib_venv="${HOME}/.cache/tvilling-owslib"
if ! "$owslib_venv/bin/python" -c "import owslib.ogcapi.features, openapi_spec_validator" >/dev/null 2>&1; then
  echo "bootstrap: installing OWSLib in $owslib_venv" >&2
  if ! python3 -m venv "$owslib_venv" >&2; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv >&2
    python3 -m venv "$owslib_venv" >&2
  fi
  "$owslib_venv/bin/pip" install -q "owslib==0.35.0" "openapi-spec-validator==0.9.0" >&2
fi
