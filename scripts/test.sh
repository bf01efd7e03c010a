#!/usr/bin/env bash
# The project's test command (make test): starts what the tests need, then
# runs go vet and every test with the race detector.
#  - Redis: REDIS_URL if set; else one answering on 127.0.0.1:6379; else a
#    redis-server started here on a free port (stopped at the end); else it
#    says how to install one.
#  - NATS: tests run the pinned nats-server from its Go module (in-process,
#    and as a binary built from go.mod's tool line); nothing to install.
#    The server-check test also runs nats-server 2.11 (older than the
#    minimum), built from tools/nats-server-old by scripts/nats-server-old.sh.
#  - Node.js and npm: the e2e test of the npm Standard Webhooks and svix
#    verifiers runs them from e2e/testdata/jsverify, installed here with
#    npm ci from its package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v go >/dev/null || { echo "make test: Go is not installed (need Go 1.26: https://go.dev/dl/)" >&2; exit 1; }

cleanup() { :; }
trap 'cleanup' EXIT

redis_ping() { # host port
  if command -v redis-cli >/dev/null; then
    redis-cli -h "$1" -p "$2" ping 2>/dev/null | grep -q PONG
  else
    (exec 3<>"/dev/tcp/$1/$2" && printf 'PING\r\n' >&3 && timeout 2 head -c 5 <&3 | grep -q PONG) 2>/dev/null
  fi
}

if [ -z "${REDIS_URL:-}" ]; then
  if redis_ping 127.0.0.1 6379; then
    export REDIS_URL=redis://127.0.0.1:6379/0
  elif command -v redis-server >/dev/null; then
    port=16379
    dir=$(mktemp -d)
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" >/dev/null
    cleanup() { kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; rm -rf "$dir"; }
    for _ in $(seq 50); do redis_ping 127.0.0.1 "$port" && break; sleep 0.1; done
    export REDIS_URL=redis://127.0.0.1:$port/0
    echo "make test: started redis-server on 127.0.0.1:$port"
  else
    echo "make test: Redis is needed and none is running. Install it (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis) or set REDIS_URL." >&2
    exit 1
  fi
fi
echo "make test: Redis at $REDIS_URL"

if [ -x scripts/jaeger.sh ] && [ -z "${JAEGER_BIN:-}" ]; then
  echo "make test: building Jaeger for the tracing test (cached after the first build)"
  scripts/jaeger.sh build
  export JAEGER_BIN="$PWD/bin/jaeger"
fi

if [ -z "${NATS_SERVER_OLD_BIN:-}" ]; then
  echo "make test: building nats-server 2.11 for the server-check test (cached after the first build)"
  scripts/nats-server-old.sh build
  export NATS_SERVER_OLD_BIN="$PWD/bin/nats-server-old"
fi

# The npm Standard Webhooks and svix verifiers, for e2e TestNodeVerifiers
# (which fails, naming what is missing, without them).
jsverify=e2e/testdata/jsverify
if command -v npm >/dev/null; then
  echo "make test: installing the npm verifiers into $jsverify/node_modules (npm ci)"
  npm ci --prefix "$jsverify" --no-audit --no-fund --loglevel=error ||
    echo "make test: npm ci failed; TestNodeVerifiers will fail" >&2
else
  echo "make test: npm is not installed (Debian: apt-get install -y nodejs npm); TestNodeVerifiers will fail" >&2
fi

echo "make test: go vet ./..."
go vet ./...
echo "make test: go test -race ./..."
go test -race -count=1 -timeout 40m "$@" ./...
