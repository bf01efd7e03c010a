#!/usr/bin/env bash
# Memory soak: webhookd alone (embedded nats-server, in-process state), load
# from bin/bench -external through the HTTP ingest at a steady rate, and the
# webhookd process's RSS and Go heap sampled from its /metrics (on the API
# address) every SAMPLE seconds. Prints one line per sample and the bench's
# JSON line.
#
#   scripts/soak.sh [seconds] [deliveries/s]     (default 900 s at 2000/s)
#
# SCENARIO picks the bench scenario (default rate); BENCH_ARGS adds arguments,
# e.g. SCENARIO=hostile BENCH_ARGS="-hostile-share 0.5" for hostile receivers
# beside healthy ones (BENCH_ARGS="-hostile-share 0" is its baseline).
# AFTER keeps sampling that many seconds once the bench has stopped (it
# deletes its webhooks at the end: what their backlog costs shows there).
# PPROF_ADDR in the environment reaches webhookd (heap profiles).
# The first 10 minutes fill the EVENTS deduplication window (10 min), so
# "steady load" is what follows it; a 15-minute run leaves 5 minutes of it.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-900}
RATE=${2:-2000}
SAMPLE=${SAMPLE:-15}
SCENARIO=${SCENARIO:-rate}
AFTER=${AFTER:-0}
read -r -a bench_args <<<"${BENCH_ARGS:-}"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

go build -o "$work/webhookd" ./cmd/webhookd
go build -o "$work/bench" ./cmd/bench
DATA_DIR="$work/data" API_ADDR=127.0.0.1:18080 PUBLISHER_ADDR=127.0.0.1:18081 \
	WEBHOOKS_API_TOKENS=soak-token=soak WEBHOOKS_PER_COMPANY_LIMIT=1000 \
	DELIVERY_ALLOWED_CIDRS=127.0.0.0/8 LOG_LEVEL=warn \
	"$work/webhookd" 2>"$work/webhookd.log" &
for _ in $(seq 100); do
	curl -fs http://127.0.0.1:18080/metrics >/dev/null 2>&1 && break
	sleep 0.2
done

sample() {
	local m
	m=$(curl -fs http://127.0.0.1:18080/metrics)
	awk -v t="$1" '
		/^process_resident_memory_bytes / { rss = $2 }
		/^go_memstats_heap_inuse_bytes / { heap = $2 }
		END { printf "t=%ss rss_mb=%.0f heap_inuse_mb=%.0f\n", t, rss / 1048576, heap / 1048576 }' <<<"$m"
}

"$work/bench" -external -api http://127.0.0.1:18080 -ingest http://127.0.0.1:18081 \
	-token soak-token -company soak -scenario "$SCENARIO" -rate "$RATE" -duration "${DURATION}s" "${bench_args[@]}" \
	>"$work/bench.json" 2>"$work/bench.err" &
bench=$!
start=$(date +%s)
while kill -0 "$bench" 2>/dev/null; do
	sample $(($(date +%s) - start))
	sleep "$SAMPLE"
done
wait "$bench" || true
stop=$(($(date +%s) + AFTER))
while sample $(($(date +%s) - start)) && [ "$(date +%s)" -lt "$stop" ]; do
	sleep "$SAMPLE"
done
tail -1 "$work/bench.json"
