#!/usr/bin/env bash
# Installs the system packages tvilling builds and tests against, when they are missing.
# Debian/Ubuntu; uses sudo when not root. Idempotent and quiet when everything is there.
set -euo pipefail

packages=(libgdal-dev libproj-dev proj-data gdal-bin libclang-dev pkg-config)
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
