#!/usr/bin/env bash
# The benchmark against separate processes: a nats-server process (the
# pinned module), the Redis at REDIS_URL, and the api, publisher, one
# dispatcher and DELIVERERS (2) deliverer processes, all on this machine.
# Every argument goes to bin/bench, e.g.
#
#   scripts/bench-external.sh -scenario rate -rate 2000 -duration 30s
#
# The events go through the HTTP ingest (the publisher process).
set -euo pipefail
cd "$(dirname "$0")/.."
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/14}
DELIVERERS=${DELIVERERS:-2}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

for b in api publisher dispatcher deliverer bench; do
	go build -o "$work/$b" "./cmd/$b"
done
go build -o "$work/nats-server" github.com/nats-io/nats-server/v2
"$work/nats-server" -js -sd "$work/nats" -a 127.0.0.1 -p 14222 -m 18222 2>"$work/nats.log" &
for _ in $(seq 100); do
	curl -fs http://127.0.0.1:18222/healthz?js-enabled-only=true >/dev/null 2>&1 && break
	sleep 0.1
done

export NATS_URL=nats://127.0.0.1:14222 REDIS_URL LOG_LEVEL=warn \
	WEBHOOKS_API_TOKENS=ext-token=ext WEBHOOKS_PER_COMPANY_LIMIT=2000 \
	DELIVERY_ALLOWED_CIDRS=127.0.0.0/8 API_ADDR=127.0.0.1:18080 PUBLISHER_ADDR=127.0.0.1:18081
"$work/api" 2>"$work/api.log" &
"$work/publisher" 2>"$work/publisher.log" &
"$work/dispatcher" 2>"$work/dispatcher.log" &
for i in $(seq "$DELIVERERS"); do
	"$work/deliverer" 2>"$work/deliverer-$i.log" &
done
for _ in $(seq 100); do
	curl -fs -o /dev/null http://127.0.0.1:18080/openapi.json 2>/dev/null && break
	sleep 0.2
done

"$work/bench" -external -api http://127.0.0.1:18080 -ingest http://127.0.0.1:18081 \
	-token ext-token -company ext "$@"
