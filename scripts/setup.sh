#!/usr/bin/env bash
# Sets up airut on a fresh Debian 12 host (as root): git and Podman from Debian, Podman's API
# service on /run/podman/podman.sock (the config's default `container.socket`), the offline base
# image, the npm dependencies and the built CLI. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: run as root (it installs Debian packages and starts Podman's API service)" >&2
  exit 1
fi

echo "==> Debian packages"
need=()
for pkg in git ca-certificates curl; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${need[@]}"
fi

echo "==> Podman API service on /run/podman/podman.sock"
AIRUT_PODMAN_SOCKET=/run/podman/podman.sock bash scripts/podman-service.sh start

echo "==> Base image"
CONTAINER_HOST=unix:///run/podman/podman.sock bash scripts/base-image.sh

echo "==> npm dependencies and build"
# Not `npm ci`: the registry here serves only this platform's optional packages, so the lockfile
# cannot list the others and `npm ci` refuses it; `npm install` honours the lockfile as it is.
npm install --no-audit --no-fund
npm run build

echo
echo "Ready. Start the gateway with ./bin/airut.js run (./bin/airut.js --help for every command)."
