#!/usr/bin/env bash
# The project's test command (make test): starts what the tests need, then
# runs go vet and every test with the race detector.
#  - Redis: REDIS_URL if set; else one answering on 127.0.0.1:6379; else a
#    redis-server started here on a free port (stopped at the end); else it
#    says how to install one.
#  - The portal's browser tests: Debian's chromium (installed here with
#    apt-get when missing and run as root, else it says how), Node.js, and
#    e2e/portal's npm packages (npm ci when missing or out of date).
#  - NATS: tests run the pinned nats-server from its Go module (in-process,
#    and as a binary built from go.mod's tool line); nothing to install.
#    The server-check test also runs nats-server 2.11 (older than the
#    minimum), built from tools/nats-server-old by scripts/nats-server-old.sh.
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

# The portal's browser tests (e2e/portal_test.go) drive Debian's chromium
# with playwright-core from npm; no browser is ever downloaded.
need_deb() { # what-for packages...: apt-get installs them as root, else says how
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "make test: installing ${*:2} for $1"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${@:2}" >/dev/null
  else
    echo "make test: $1 needs Debian's ${*:2}: sudo apt-get install -y ${*:2}" >&2
    exit 1
  fi
}
[ -x /usr/bin/chromium ] || need_deb "the portal's browser tests" chromium
{ command -v node && command -v npm; } >/dev/null || need_deb "the portal's browser tests" nodejs npm
# node_modules/.installed-lock.json is the lock it was installed from.
if ! cmp -s e2e/portal/package-lock.json e2e/portal/node_modules/.installed-lock.json; then
  echo "make test: npm ci in e2e/portal (playwright-core, axe-core)"
  (cd e2e/portal && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.installed-lock.json)
fi
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

echo "make test: go vet ./..."
go vet ./...
echo "make test: go test -race ./..."
go test -race -count=1 -timeout 40m "$@" ./...
