#!/usr/bin/env bash
# The benchmark against separate processes: a nats-server process (the
# pinned module), the Redis at REDIS_URL, and the api, publisher, one
# dispatcher and DELIVERERS (2) deliverer processes, all on this machine.
# Every argument goes to bin/bench, e.g.
#
#   scripts/bench-external.sh -scenario rate -rate 2000 -duration 30s
#
# The events go through the HTTP ingest (the publisher process). The
# dispatcher serves /metrics on 127.0.0.1:18090, deliverer i on 1809i.
# At the end a line on stderr gives each process's CPU seconds during the
# bench. BENCH_PPROF=1 serves net/http/pprof from each role (the line
# "pprof on" says where); NATS_SERVER_ARGS adds nats-server flags (e.g.
# --profile 16070).
set -euo pipefail
cd "$(dirname "$0")/.."
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/14}
DELIVERERS=${DELIVERERS:-2}
work=$(mktemp -d)
# BENCH_LOGS=dir keeps the processes' logs there.
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; [ -z "${BENCH_LOGS:-}" ] || cp "$work"/*.log "$BENCH_LOGS"/; rm -rf "$work"' EXIT

for b in api publisher dispatcher deliverer bench; do
	go build -o "$work/$b" "./cmd/$b"
done
go build -o "$work/nats-server" github.com/nats-io/nats-server/v2
# launch NAME CMD...: start a process in the background, its log in $work,
# its pid kept for the CPU report. With BENCH_PPROF set, role i serves
# net/http/pprof on 127.0.0.1:1606i (PPROF_ADDR).
names=() pids=()
launch() {
	local name=$1
	shift
	if [ -n "${BENCH_PPROF:-}" ] && [ "$name" != nats-server ]; then
		PPROF_ADDR=127.0.0.1:$((16060 + ${#names[@]})) "$@" 2>"$work/$name.log" &
		echo "bench-external: $name pprof on 127.0.0.1:$((16060 + ${#names[@]}))" >&2
	else
		"$@" 2>"$work/$name.log" &
	fi
	names+=("$name") pids+=($!)
}

# cpu PID: user+system CPU seconds the process has used so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0; }

launch nats-server "$work/nats-server" -js -sd "$work/nats" -a 127.0.0.1 -p 14222 -m 18222 ${NATS_SERVER_ARGS:-}
for _ in $(seq 100); do
	curl -fs http://127.0.0.1:18222/healthz?js-enabled-only=true >/dev/null 2>&1 && break
	sleep 0.1
done

LOG_LEVEL=${LOG_LEVEL:-warn}
export NATS_URL=nats://127.0.0.1:14222 REDIS_URL LOG_LEVEL \
	WEBHOOKS_API_TOKENS=ext-token=ext WEBHOOKS_PER_COMPANY_LIMIT=2000 \
	DELIVERY_ALLOWED_CIDRS=127.0.0.0/8 API_ADDR=127.0.0.1:18080 PUBLISHER_ADDR=127.0.0.1:18081
launch api "$work/api"
launch publisher "$work/publisher"
OPS_ADDR=127.0.0.1:18090 launch dispatcher "$work/dispatcher"
for i in $(seq "$DELIVERERS"); do
	OPS_ADDR=127.0.0.1:$((18090 + i)) launch "deliverer-$i" "$work/deliverer"
done
for _ in $(seq 100); do
	curl -fs -o /dev/null http://127.0.0.1:18080/openapi.json 2>/dev/null && break
	sleep 0.2
done

before=()
for pid in "${pids[@]}"; do before+=("$(cpu "$pid")"); done
"$work/bench" -external -api http://127.0.0.1:18080 -ingest http://127.0.0.1:18081 \
	-token ext-token -company ext "$@"
# CPU seconds each process used during the bench (the bench's own is in its line).
report="bench-external: cpu_s"
for i in "${!pids[@]}"; do
	report+=" ${names[$i]}=$(awk -v a="$(cpu "${pids[$i]}")" -v b="${before[$i]}" 'BEGIN { printf "%.2f", a - b }')"
done
echo "$report" >&2
# Where the jobs went: created, handed over (and refused) by the dispatcher;
# handed back at an endpoint's cap by the deliverers.
counts="bench-external: jobs"
for port in 18090 $(seq 18091 $((18090 + DELIVERERS))); do
	counts+=" $(curl -fs "http://127.0.0.1:$port/metrics" 2>/dev/null | awk -v p="$port" '
		/^webhooks_jobs_created_total/ { printf "created=%d ", $2 }
		/^webhooks_jobs_handed_over_total/ { printf "handed_over=%d ", $2 }
		/^webhooks_jobs_handoff_refused_total/ { printf "refused=%d ", $2 }
		/^webhooks_deliveries_total\{/ && $2 > 0 { match($1, /outcome="[a-z_]+"/); printf "%s:%s=%d ", p, substr($1, RSTART + 9, RLENGTH - 10), $2 }
		/^webhooks_attempts_total\{result="failure"/ && $2 > 0 { printf "%s:failed_attempts=%d ", p, $2 }')"
done
echo "$counts" >&2
