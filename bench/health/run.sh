#!/usr/bin/env bash
# bench/health/run.sh — the cost of synchronous acks (docs/benchmarks.md,
# "Account health (issue 11)"). One wasim simulator in its own process;
# per run, in alternating order:
#
#   bare    a plain whatsmeow client (acks before handling, stores nothing)
#   before  this checkout with SynchronousAck and EnableDecryptedEventBuffer
#           off (instance/engine.go patched in a copy: whatsmeow acks in
#           the background, before the commit); BEFORE=<git ref> builds
#           that commit instead
#   after   this checkout (the ack follows the commit of message + event)
#
# each takes in N texts from C contacts that waited in the simulator's
# offline queue while it was disconnected (bench/health/inload): the clock
# runs from the reconnect to the last message taken in (for meowgate: the
# last message.received event in its log, i.e. stored and published).
#
# Knobs (environment): RUNS=3, N=2000, C=5, BEFORE=<git ref> (default:
# the patched copy), KEEP=1.
# Results: $OUT/results.jsonl and a summary on stdout (OUT defaults to
# bench/health/results). Only 127.0.0.1 is used.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${OUT:-$HERE/results}
RUNS=${RUNS:-3}
N=${N:-2000}
C=${C:-5}
BEFORE=${BEFORE:-}
. "$ROOT/bench/lib.sh"

bench_setup meowgate-healthbench
mkdir -p "$WORK/before"

export MEOWGATE_API_ADMIN_KEY=bench-admin-key-5e0c7d1a2b3c4d5e6f708192a3b4c5d6
export MEOWGATE_LOG_LEVEL=warn
export MEOWGATE_API_RATE_LIMIT=100000000
export MEOWGATE_API_RATE_BURST=100000000
unset MEOWGATE_CONFIG MEOWGATE_STORE_PATH MEOWGATE_SERVER_LISTEN STATE_DIRECTORY

echo "$(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); $(go version | cut -d' ' -f3)" >&2
echo "after: $(git -C "$ROOT" rev-parse --short HEAD); before: ${BEFORE:-the same with background acks}" >&2
(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$BIN/meowgate" . &&
	CGO_ENABLED=0 go build -trimpath -o "$BIN/wasim" ./cmd/wasim &&
	CGO_ENABLED=0 go build -trimpath -o "$BIN/inload" ./bench/health/inload)
git -C "$ROOT" archive "${BEFORE:-HEAD}" | tar -x -C "$WORK/before"
if [[ -z $BEFORE ]]; then
	sed -i 's/cli.SynchronousAck = true/cli.SynchronousAck = false/; s/cli.EnableDecryptedEventBuffer = true/cli.EnableDecryptedEventBuffer = false/' "$WORK/before/instance/engine.go"
	[[ $(grep -c '= false$' "$WORK/before/instance/engine.go") -ge 2 ]] || { echo "bench: cannot patch instance/engine.go" >&2; exit 1; }
fi
(cd "$WORK/before" && CGO_ENABLED=0 go build -trimpath -o "$BIN/meowgate-before" .)

WPORT=$(freeport)
"$BIN/wasim" -addr "127.0.0.1:$WPORT" -db "$WORK/wasim.db" -delivery-delay 0 -read-delay 0 >"$LOGS/wasim.out" 2>"$LOGS/wasim.log" &
PIDS+=($!)
for ((i = 0; i < 100; i++)); do
	(exec 3<>/dev/tcp/127.0.0.1/$WPORT) 2>/dev/null && break
	sleep 0.1
done

# run KIND RUN: one measurement; fresh numbers per kind and run.
run() {
	local kind=$1 r=$2 k phone from
	case $kind in bare) k=1 ;; before) k=2 ;; after) k=3 ;; esac
	phone=$(printf '+4915911%d%02d001' "$k" "$r")
	from=$(printf '+4917911%d%02d0' "$k" "$r")
	if [[ $kind == bare ]]; then
		res=$("$BIN/inload" bare -wasim "127.0.0.1:$WPORT" -db "$WORK/bare-$r.db" -phone "$phone" -from "$from" -n "$N" -c "$C")
	else
		local bin=$BIN/meowgate port
		[[ $kind == before ]] && bin=$BIN/meowgate-before
		port=$(freeport)
		"$bin" serve --listen "127.0.0.1:$port" --store "$WORK/$kind-$r.db" --sandbox-addr "127.0.0.1:$WPORT" >>"$LOGS/$kind-$r.log" 2>&1 &
		local pid=$!
		PIDS+=("$pid")
		for ((i = 0; i < 200; i++)); do
			curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
			sleep 0.05
		done
		res=$("$BIN/inload" mg -wasim "127.0.0.1:$WPORT" -url "http://127.0.0.1:$port" -phone "$phone" -from "$from" -n "$N" -c "$C")
		stop "$pid"
	fi
	echo "$kind #$r: $res" >&2
	printf '{"kind":"%s","run":%d,"data":%s}\n' "$kind" "$r" "$res" >>"$RESULTS"
}

for ((r = 1; r <= RUNS; r++)); do
	for kind in bare before after; do
		run "$kind" "$r"
	done
done

# Medians and ratios to bare (per run, then the median of the ratios).
jq -rs --argjson n "$N" --argjson c "$C" '
	def med: sort | if length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end;
	. as $all
	| def rate(k): [$all[] | select(.kind == k) | .data.msgs_per_s];
	"N=\($n) texts from \($c) contacts, median of \(rate("bare") | length) runs:",
	(["bare", "before", "after"][] as $k
	 | (rate($k)) as $r | (rate("bare")) as $b
	 | ([range(0; $r | length)] | map($r[.] / $b[.]) | med) as $ratio
	 | "  \($k): \($r | med | . * 10 | round / 10) msgs/s (\($ratio * 100 | round / 100)x bare)")
' "$RESULTS"
