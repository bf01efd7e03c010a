#!/usr/bin/env bash
# Both deployment shapes side by side, through the public ingest, in
# interleaved rounds: the bare HTTP ceiling, webhookd (one process, embedded
# nats-server) fed by pkg/publish and over POST /v1/events, and the split
# deployment (scripts/bench-external.sh: a nats-server process, the roles as
# processes, Redis) with 1, 2 and 3 deliverers. Each run prints one line:
#
#   round name deliveries_per_sec p50_ms p99_ms lost duplicates
#
# and the whole JSON lines go to $OUT (default bench-shapes.jsonl).
#
#   scripts/bench-shapes.sh [ROUNDS] [DURATION]     e.g. 3 20s
#
# SHAPES picks the runs (default below); RATE_DELIVERIES sets the load of
# the rate runs (2000 deliveries/s). Every run publishes one event per HTTP
# request with 64 publishers unless its name says nats.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
duration=${2:-20s}
out=${OUT:-bench-shapes.jsonl}
rate=${RATE_DELIVERIES:-2000}
shapes=${SHAPES:-"ceiling webhookd-nats webhookd-http split-1 split-2 split-3 webhookd-rate split-rate"}
go build -o bin/bench ./cmd/bench
http=(-via http -batch 1 -publishers 64)

run() { # name command...
	local name=$1
	shift
	local line
	line=$("$@" 2>/dev/null | tail -1) || true
	[ -n "$line" ] || { echo "$round $name FAILED"; return; }
	echo "{\"round\":$round,\"name\":\"$name\",\"result\":$line}" >>"$out"
	echo "$line" | awk -v r="$round" -v n="$name" '{
		match($0, /"deliveries_per_sec":[0-9.]+/); d = substr($0, RSTART + 21, RLENGTH - 21)
		match($0, /"p50_ms":[0-9.]+/); p50 = substr($0, RSTART + 9, RLENGTH - 9)
		match($0, /"p99_ms":[0-9.]+/); p99 = substr($0, RSTART + 9, RLENGTH - 9)
		match($0, /"lost":[0-9]+/); lost = substr($0, RSTART + 7, RLENGTH - 7)
		match($0, /"duplicates":[0-9]+/); dup = substr($0, RSTART + 13, RLENGTH - 13)
		printf "%s %-14s %9s/s  p50 %8s ms  p99 %8s ms  lost %s  dups %s\n", r, n, d, p50, p99, lost, dup }'
}

for round in $(seq "${ROUND:-1}" "$((${ROUND:-1} + rounds - 1))"); do
	for shape in $shapes; do
		case $shape in
		ceiling) run ceiling bin/bench -scenario ceiling -duration "$duration" ;;
		webhookd-nats) run webhookd-nats bin/bench -scenario fanout -duration "$duration" ;;
		webhookd-http) run webhookd-http bin/bench -scenario fanout -duration "$duration" "${http[@]}" ;;
		webhookd-rate) run webhookd-rate bin/bench -scenario rate -rate "$rate" -duration "$duration" "${http[@]}" ;;
		split-[0-9]) DELIVERERS=${shape#split-} run "$shape" scripts/bench-external.sh -scenario fanout -duration "$duration" "${http[@]}" ;;
		split-rate) DELIVERERS=2 run split-rate scripts/bench-external.sh -scenario rate -rate "$rate" -duration "$duration" "${http[@]}" ;;
		*) echo "bench-shapes: unknown shape $shape" >&2; exit 2 ;;
		esac
	done
done
