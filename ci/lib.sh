# Shared helpers for ci/ scripts that start servers on loopback: a work directory removed on
# exit, background processes stopped on exit, free ports, and waiting for a port to open.
# Source it after `cd` to the repository root; register background PIDs in PIDS.
# shellcheck shell=bash

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# A free TCP port on 127.0.0.1 (bound and released).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits up to 10 s for 127.0.0.1:PORT to accept; on failure prints LOG (if given) and exits.
wait_port() {
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "port $1 never opened" >&2
  [ -n "${2:-}" ] && [ -f "$2" ] && cat "$2" >&2
  exit 1
}

# A fast static nginx backend on 127.0.0.1:PORT (one worker, keep-alive, 200 "hello from the
# backend") that is never the bottleneck; its pid joins PIDS. Needs WORK from this file.
start_nginx_backend() {
  local port=$1
  cat > "$WORK/backend.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/backend.pid;
error_log /dev/null crit;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$port;
    keepalive_requests 1000000;
    location / { return 200 "hello from the backend\n"; }
  }
}
CONF
  nginx -p "$WORK" -c "$WORK/backend.conf" &
  PIDS+=($!)
}
