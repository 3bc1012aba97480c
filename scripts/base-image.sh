#!/usr/bin/env bash
# Builds the base image localhost/airut-base:bookworm without any container registry:
# debootstrap a minimal Debian into a directory, then `podman import` it.
set -euo pipefail

IMAGE="localhost/airut-base:bookworm"
SUITE=bookworm

usage() {
  cat <<EOF
usage: bash scripts/base-image.sh [--mirror URL] [--force] [--help]

Builds $IMAGE from scratch, with no container registry:
  debootstrap --variant=minbase $SUITE DIR MIRROR
  tar -C DIR -c . | podman import - $IMAGE
Skipped when the image already exists (use --force to rebuild).

Mirror: --mirror URL, else \$AIRUT_DEBIAN_MIRROR, else the first Debian URI that apt uses on
this host (/etc/apt/sources.list and /etc/apt/sources.list.d/*), else http://deb.debian.org/debian.

Air-gapped hosts: point --mirror at a local Debian mirror (http://, or file:///path to a
mirror on disk), or build the image on a connected machine and carry it over:
  podman save $IMAGE -o airut-base.tar     (connected machine)
  podman load -i airut-base.tar            (air-gapped host)
Dockerfiles under .airut/container can then start with: FROM $IMAGE

Podman: uses the podman CLI; set CONTAINER_HOST=unix:///path/to/podman.sock to talk to a
running 'podman system service' instead of the local store.
EOF
}

MIRROR="${AIRUT_DEBIAN_MIRROR:-}"
FORCE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --mirror)
      MIRROR="$2"
      shift 2
      ;;
    --force)
      FORCE=1
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
done

if [ "$FORCE" = 0 ] && podman image exists "$IMAGE"; then
  echo "base-image: $IMAGE exists, skipping"
  exit 0
fi

apt_mirror() {
  # deb822 sources (URIs: ...) first, then one-line sources (deb URL suite ...); only the
  # main archive (not -security, which has no full suite), first match wins.
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' "$f" | grep -v -- '-security' | grep -i debian | head -n 1 || true)
    if [ -n "$uri" ]; then
      echo "$uri"
      return
    fi
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) { print $i; break } }' "$f" |
      grep -v -- '-security' | grep -i debian | head -n 1 || true)
    if [ -n "$uri" ]; then
      echo "$uri"
      return
    fi
  done
  echo "http://deb.debian.org/debian"
}

[ -n "$MIRROR" ] || MIRROR=$(apt_mirror)

if ! command -v debootstrap >/dev/null; then
  echo "base-image: debootstrap is missing (apt-get install debootstrap)" >&2
  exit 1
fi

WORKDIR=$(mktemp -d /var/tmp/airut-base.XXXXXX)
trap 'rm -rf "$WORKDIR"' EXIT

echo "base-image: debootstrap $SUITE from $MIRROR"
start=$(date +%s)
debootstrap --variant=minbase "$SUITE" "$WORKDIR/root" "$MIRROR" >"$WORKDIR/debootstrap.log" 2>&1 || {
  echo "base-image: debootstrap failed; last lines:" >&2
  tail -n 30 "$WORKDIR/debootstrap.log" >&2
  exit 1
}
# apt caches and lists are not needed in the image; containers run `apt-get update` first.
rm -rf "$WORKDIR/root/var/cache/apt/archives/"*.deb "$WORKDIR/root/var/lib/apt/lists/"*

tar -C "$WORKDIR/root" -c . | podman import \
  --change 'CMD ["/bin/bash"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  - "$IMAGE" >/dev/null
echo "base-image: built $IMAGE in $(($(date +%s) - start)) s"
