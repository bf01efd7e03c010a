#!/usr/bin/env bash
# The project's test command (make test): starts what the tests need, then
# runs go vet and every test with the race detector.
#  - Redis: REDIS_URL if set (the tests write only keys under prefixes of
#    their own and delete them, never FLUSHDB); else a redis-server of its
#    own, on a free port, storing nothing on disk, stopped at the end; else
#    it says how to install one. A Redis already running on 6379 is not
#    used unless REDIS_URL names it.
#  - The portal's browser tests: Debian's chromium (installed here with
#    apt-get when missing and run as root, else it says how), Node.js, and
#    e2e/portal's npm packages (npm ci when missing or out of date).
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

port_taken() { # port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# start_redis starts redis-server in the background on a free port (no
# RDB snapshots, no AOF, its files in a temporary directory) and sets
# redis_port; the EXIT trap stops it and removes the directory.
start_redis() {
  redis_dir=$(mktemp -d)
  cleanup() {
    if [ -n "${redis_pid:-}" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
    rm -rf "$redis_dir"
  }
  for _ in $(seq 20); do
    redis_port=$((20000 + RANDOM % 40000))
    port_taken "$redis_port" && continue
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$redis_dir" \
      --logfile "$redis_dir/redis.log" &
    redis_pid=$!
    for _ in $(seq 50); do
      redis_ping 127.0.0.1 "$redis_port" && return 0
      kill -0 "$redis_pid" 2>/dev/null || break # it exited: the port was taken meanwhile
      sleep 0.1
    done
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
    redis_pid=
  done
  echo "make test: could not start redis-server (its log: $redis_dir/redis.log)" >&2
  cat "$redis_dir/redis.log" >&2 || true
  return 1
}

if [ -z "${REDIS_URL:-}" ]; then
  if command -v redis-server >/dev/null; then
    start_redis
    export REDIS_URL=redis://127.0.0.1:$redis_port/0
    echo "make test: started redis-server on 127.0.0.1:$redis_port (stopped at the end)"
  else
    echo "make test: Redis is needed. Install redis-server (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis), which make test then starts on a free port of its own, or set REDIS_URL to a Redis the tests may write to (they delete only their own keys)." >&2
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
