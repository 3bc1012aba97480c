#!/usr/bin/env bash
# Installs Podman from Debian (when missing), writes the containers.conf these machines need and
# keeps `podman system service` answering on a unix socket for the integration tests and benches.
#
#   bash scripts/podman-service.sh          install if needed, start if not answering, wait
#   bash scripts/podman-service.sh stop     stop the service this script started
#
# Idempotent: a second run with the service up only checks that it answers.
set -euo pipefail

# AIRUT_PODMAN_SOCKET picks another socket (scripts/setup.sh uses /run/podman/podman.sock, the
# config's default); the pid and log files live beside it.
SOCKET="${AIRUT_PODMAN_SOCKET:-/run/airut-test/podman.sock}"
SOCKET_DIR="$(dirname "$SOCKET")"
PIDFILE="$SOCKET.pid"
LOGFILE="$SOCKET.log"
CONF=/etc/containers/containers.conf

usage() {
  cat <<EOF
usage: bash scripts/podman-service.sh [start|stop|--help]

start (default)  apt-get install podman runc uidmap slirp4netns fuse-overlayfs debootstrap when
                 missing, write $CONF (runc, ulimits below the hard limits),
                 start 'podman system service --time=0 unix://$SOCKET' unless it answers,
                 and wait until it answers.
stop             stop the service started by this script (pid in $PIDFILE).
Tests read the socket from AIRUT_TEST_PODMAN_SOCKET=$SOCKET.
EOF
}

answering() {
  # /_ping answers "OK" once the API is serving; a stale socket file alone does not.
  [ -S "$SOCKET" ] && curl -fsS --max-time 2 --unix-socket "$SOCKET" http://d/_ping >/dev/null 2>&1
}

install_packages() {
  local missing=()
  for pkg in podman runc uidmap slirp4netns fuse-overlayfs debootstrap curl; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "podman-service: installing ${missing[*]}"
    # Another install may hold the dpkg lock (other sessions on the same machine): wait for it.
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}"
  fi
}

write_conf() {
  # crun fails on these hosts' hybrid cgroups, so runc; rlimits above the hard limit make every
  # container fail to start, so pin ulimits that fit under it.
  local wanted
  wanted=$(cat <<'EOF'
# Written by airut scripts/podman-service.sh
[containers]
default_ulimits = ["nofile=16384:16384", "nproc=4096:4096"]

[engine]
runtime = "runc"
EOF
)
  mkdir -p /etc/containers
  if [ ! -f "$CONF" ] || [ "$(cat "$CONF")" != "$wanted" ]; then
    printf '%s\n' "$wanted" >"$CONF"
    echo "podman-service: wrote $CONF"
  fi
}

start() {
  install_packages
  write_conf
  if answering; then
    echo "podman-service: answering on $SOCKET"
    return 0
  fi
  mkdir -p "$SOCKET_DIR"
  rm -f "$SOCKET"
  # setsid + nohup: the service outlives this script and the shell that ran it. Started from /:
  # conmon inherits the service's working directory and fails every container start ("Failed
  # to get working directory") once that directory is gone, e.g. a removed CI checkout.
  (cd / && exec setsid nohup podman system service --time=0 "unix://$SOCKET" >>"$LOGFILE" 2>&1 </dev/null) &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 300); do
    if answering; then
      echo "podman-service: started (pid $(cat "$PIDFILE")) on $SOCKET"
      return 0
    fi
    if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
      echo "podman-service: service exited; last log lines:" >&2
      tail -n 20 "$LOGFILE" >&2 || true
      exit 1
    fi
    sleep 0.1
  done
  echo "podman-service: no answer on $SOCKET after 30 s; last log lines:" >&2
  tail -n 20 "$LOGFILE" >&2 || true
  exit 1
}

stop() {
  if [ -f "$PIDFILE" ]; then
    local pid
    pid=$(cat "$PIDFILE")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
      echo "podman-service: stopped (pid $pid)"
    fi
    rm -f "$PIDFILE" "$SOCKET"
  else
    # Not ours (another run's service, or none): leave its socket alone.
    echo "podman-service: no pid file, nothing to stop"
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  -h | --help | help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
esac
