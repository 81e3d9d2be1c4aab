#!/usr/bin/env bash
# bench/messaging/run.sh — meowgate's messaging benchmarks (docs/benchmarks.md,
# "Messaging"). Builds everything, starts one wasim simulator in its own
# process (receipts without delay) and, per scenario, a fresh meowgate on a
# fresh database, and measures on this machine:
#
#   1. enqueue throughput: POST …/messages → 202 with 32 concurrent clients
#      against an instance that is not connected (wrk + Lua, and a Go client)
#   2. end-to-end send throughput of one instance (send_delay_ms 0, N texts
#      to one contact, first POST → last message.sent), as a ratio to a bare
#      whatsmeow client (bench/messaging/bare) on the same simulator, in
#      alternating runs; PROFILE=1 adds a run in the pprof harness
#      (bench/messaging/harness) and writes its CPU profile
#   3. pacing accuracy: send_delay_ms 200, jitter 0, 50 texts: deviation of
#      the gaps between consecutive sends from 200 ms
#   4. webhooks: drain rate of a backlog held behind one delivery, and the
#      latency event → receiver (loopback, 204) under load
#   5. bytes written per sent message (receipts included): /proc/PID/io,
#      and with strace the exact WAL/main-file writes, commits and WAL
#      frames per message, by b-tree; the same for the bare client
#   6. aging: the send of 2. and the webhook drain of 4. on an instance
#      whose database already holds AGED messages of history (3 events and
#      a delivered webhook each), written with sqlite3 while meowgate is
#      stopped
#
# Only 127.0.0.1 is used; every process started here is stopped and the
# temporary directory removed on exit. Results: $OUT/results.jsonl,
# $OUT/summary.md (OUT defaults to bench/messaging/results).
#
# Knobs (environment): ONLY="1 2 3 4 5 6" (sections to run), RUNS=3,
# N=2000 (texts per end-to-end run), ENQ_D=10s, PACE_N=50, HOOK_SENDS=1000,
# HOOK_IN=500, IO_N=1000, STRACE_N=300, AGED=20000, PROFILE=1, STRACE=1
# (needs strace), KEEP=1 (keep the temp dir), MEOWGATE_SRC (benchmark
# another checkout; default: this one).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SRC=${MEOWGATE_SRC:-$ROOT}
OUT=${OUT:-$HERE/results}
ONLY=" ${ONLY:-1 2 3 4 5 6} "
RUNS=${RUNS:-3}
N=${N:-2000}
ENQ_D=${ENQ_D:-10s}
PACE_N=${PACE_N:-50}
HOOK_SENDS=${HOOK_SENDS:-1000}
HOOK_IN=${HOOK_IN:-500}
IO_N=${IO_N:-1000}
STRACE_N=${STRACE_N:-300}
AGED=${AGED:-20000}
PROFILE=${PROFILE:-1}
STRACE=${STRACE:-1}
if [[ $STRACE == 1 ]] && ! command -v strace >/dev/null; then
	echo "bench: strace not found; skipping the strace measurements" >&2
	STRACE=0
fi
if [[ $ONLY == *" 6 "* ]] && ! command -v sqlite3 >/dev/null; then
	echo "bench: sqlite3 not found (apt-get install -y sqlite3); skipping section 6" >&2
	ONLY=${ONLY/ 6 / }
fi
section() { [[ $ONLY == *" $1 "* ]]; }
command -v wrk >/dev/null || {
	echo "bench: wrk not found (apt-get install -y wrk)" >&2
	exit 1
}

. "$ROOT/bench/lib.sh"
bench_setup meowgate-msgbench

# show prints a command as it is run, then runs it.
show() {
	printf '$ %s\n' "$*" >&2
	"$@"
}

export MEOWGATE_API_ADMIN_KEY=bench-admin-key-5e0c7d1a2b3c4d5e6f708192a3b4c5d6
export MEOWGATE_LOG_LEVEL=warn
export MEOWGATE_API_RATE_LIMIT=100000000
export MEOWGATE_API_RATE_BURST=100000000
export MEOWGATE_API_CREATE_PER_MINUTE=100000000
export MEOWGATE_WHATSAPP_DEFAULTS_SEND_DELAY_MS=0
# The webhook burst holds one delivery until the backlog is built.
export MEOWGATE_WEBHOOK_TIMEOUT=300s
unset MEOWGATE_CONFIG MEOWGATE_STORE_PATH MEOWGATE_SERVER_LISTEN STATE_DIRECTORY
KEY=$MEOWGATE_API_ADMIN_KEY

MG=() # the meowgate command line (binary, or the harness)
# start_mg NAME [ARGS…]: a meowgate on a free port with a fresh database;
# sets MG_PID, MG_URL, MG_DB.
start_mg() {
	local name=$1
	shift
	local port
	port=$(freeport)
	MG_URL=http://127.0.0.1:$port
	MG_DB=$WORK/$name.db
	printf '$ meowgate serve --listen 127.0.0.1:%s --store %s %s\n' "$port" "$MG_DB" "$*" >&2
	"$BIN/meowgate" serve --listen "127.0.0.1:$port" --store "$MG_DB" "$@" >>"$LOGS/$name.log" 2>&1 &
	MG_PID=$!
	PIDS+=("$MG_PID")
	"$BIN/mgload" ready -url "$MG_URL" >/dev/null
}
mgload() {
	local sub=$1
	shift
	printf '$ mgload %s -url %s %s\n' "$sub" "$MG_URL" "$*" >&2
	"$BIN/mgload" "$sub" -url "$MG_URL" "$@"
}

# ---------------------------------------------------------------- build
log "machine and build"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
commit=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$SRC" status --porcelain 2>/dev/null | grep -v '^?? bench/' | grep -c . || true)
record machine 0 "$(printf '{"nproc":%s,"cpu":"%s","kernel":"%s","go":"%s","date":"%s","source":"%s","mem_total":"%s","load":"%s","aged":%s}' \
	"$(nproc)" "$cpu" "$(uname -sr)" "$(go version | cut -d' ' -f3-)" "$(date -u +%Y-%m-%dT%H:%MZ)" \
	"$commit$([[ $dirty -gt 0 ]] && echo " + $dirty uncommitted changes")" "$(free -m | awk '/^Mem:/{print $2" MiB"}')" \
	"$(cut -d' ' -f1-3 /proc/loadavg)" "$AGED")"
echo "$(nproc) × $cpu; $(go version)" >&2
(cd "$SRC" && show env CGO_ENABLED=0 go build -trimpath -o "$BIN/meowgate" . &&
	show env CGO_ENABLED=0 go build -trimpath -o "$BIN/wasim" ./cmd/wasim)
TOOLSRC=$ROOT
[[ -f $SRC/bench/messaging/mgload/main.go ]] && TOOLSRC=$SRC
(cd "$TOOLSRC" && for p in mgload bare harness report; do
	CGO_ENABLED=0 go build -trimpath -o "$BIN/$p" "./bench/messaging/$p"
done)

# One simulator for the whole run, in its own process; contacts send the
# delivery and read receipts at once.
WPORT=$(freeport)
WASIM=127.0.0.1:$WPORT
# (Started directly, not through show: $! must be the process itself.)
printf '$ wasim -addr %s -db %s -delivery-delay 0 -read-delay 0\n' "$WASIM" "$WORK/wasim.db" >&2
"$BIN/wasim" -addr "$WASIM" -db "$WORK/wasim.db" -delivery-delay 0 -read-delay 0 >"$LOGS/wasim.out" 2>"$LOGS/wasim.log" &
PIDS+=($!)
for ((i = 0; i < 100; i++)); do
	(exec 3<>/dev/tcp/127.0.0.1/$WPORT) 2>/dev/null && break
	sleep 0.1
done

# Phone numbers: instances +49150RRSSxxxx, contacts +49171RRSSxxxx, where RR
# is the scenario and SS the run, so every run starts with fresh sessions.
phone() { printf '+%s%02d%02d%04d' "$1" "$2" "$3" "${4:-1}"; }

# ---------------------------------------------------------------- 1
section 1 && {
log "1. enqueue throughput (instance not connected, 32 clients, $ENQ_D)"
for ((r = 1; r <= RUNS; r++)); do
	start_mg "enq-wrk-$r"
	mgload create -name enq >/dev/null
	# Warm-up, then the measured run.
	KEY=$KEY TO=+4917000000001 wrk -t2 -c32 -d2s -s "$HERE/enqueue.lua" "$MG_URL/v1/instances/enq/messages" >"$WORK/warm.wrk"
	printf '$ KEY=… TO=+4917000000001 wrk -t2 -c32 -d%s -s bench/messaging/enqueue.lua %s/v1/instances/enq/messages\n' "$ENQ_D" "$MG_URL" >&2
	KEY=$KEY TO=+4917000000001 wrk -t2 -c32 -d"$ENQ_D" -s "$HERE/enqueue.lua" "$MG_URL/v1/instances/enq/messages" >"$WORK/enq.wrk"
	res=$(tail -n1 "$WORK/enq.wrk")
	echo "$res" >&2
	record enqueue_wrk "$r" "$res"
	# Every 202 must be a committed queue row.
	total=$(($(tail -n1 "$WORK/warm.wrk" | jq .requests) + $(echo "$res" | jq .requests)))
	res=$(mgload pending -name enq -expect "$total")
	echo "$res" >&2
	record enqueue_wrk_check "$r" "$res"
	stop "$MG_PID"

	start_mg "enq-go-$r"
	mgload create -name enq >/dev/null
	res=$(mgload enqueue -name enq -c 32 -d "$ENQ_D" -warmup 2s)
	echo "$res" >&2
	record enqueue_go "$r" "$res"
	stop "$MG_PID"
done

}

# ---------------------------------------------------------------- 2
section 2 && {
log "2. end-to-end send, N=$N, meowgate vs bare whatsmeow (alternating)"
mg_send() {
	local r=$1 me to
	me=$(phone 49150 2 "$r") to=$(phone 49171 2 "$r")
	start_mg "send-$r" --sandbox-addr "$WASIM"
	mgload create -name send -phone "$me" >/dev/null
	res=$(mgload send -name send -to "$to" -from "$me" -n "$N" -c 8)
	echo "$res" >&2
	record send_mg "$r" "$res"
	stop "$MG_PID"
}
bare_send() {
	local r=$1 me to
	me=$(phone 49159 2 "$r") to=$(phone 49179 2 "$r")
	res=$(show "$BIN/bare" -wasim "$WASIM" -db "$WORK/bare-$r.db" -phone "$me" -to "$to" -n "$N" 2>>"$LOGS/bare.log")
	echo "$res" >&2
	record send_bare "$r" "$res"
}
for ((r = 1; r <= RUNS; r++)); do
	if ((r % 2)); then
		mg_send "$r"
		bare_send "$r"
	else
		bare_send "$r"
		mg_send "$r"
	fi
done

if [[ $PROFILE == 1 ]]; then
	log "2b. the same send in the pprof harness (CPU profile)"
	port=$(freeport)
	pport=$(freeport)
	MG_URL=http://127.0.0.1:$port
	printf '$ harness -listen 127.0.0.1:%s -pprof 127.0.0.1:%s -store %s -sandbox-addr %s\n' "$port" "$pport" "$WORK/harness.db" "$WASIM" >&2
	"$BIN/harness" -listen "127.0.0.1:$port" -pprof "127.0.0.1:$pport" -store "$WORK/harness.db" -sandbox-addr "$WASIM" >>"$LOGS/harness.log" 2>&1 &
	HPID=$!
	PIDS+=("$HPID")
	"$BIN/mgload" ready -url "$MG_URL" >/dev/null
	me=$(phone 49150 3 1) to=$(phone 49171 3 1)
	mgload create -name prof -phone "$me" >/dev/null
	secs=$((N / 100 + 5))
	curl -s -o "$WORK/send.pprof" "http://127.0.0.1:$pport/debug/pprof/profile?seconds=$secs" &
	CPID=$!
	PIDS+=("$CPID")
	sleep 0.5
	res=$(mgload send -name prof -to "$to" -from "$me" -n "$N" -c 8)
	echo "$res" >&2
	record send_mg_harness 1 "$res"
	wait "$CPID" || true
	stop "$HPID"
	go tool pprof -top -nodecount=40 "$BIN/harness" "$WORK/send.pprof" >"$OUT/send.pprof.txt" 2>/dev/null || true
	go tool pprof -top -cum -nodecount=400 "$BIN/harness" "$WORK/send.pprof" 2>/dev/null |
		grep -E 'Duration|meowgate/(store|instance|webhook|api)|whatsmeow\.\(\*Client\)\.(SendMessage|encryptMessageForDevices)|sqlstore|_sqlite3RunParser|_sqlite3VdbeExec|Syscall6' \
			>"$OUT/send.pprof.cum.txt" 2>/dev/null || true
	cp "$WORK/send.pprof" "$OUT/send.pprof"
	# And the bare client's profile, for comparison.
	me=$(phone 49159 3 1) to=$(phone 49179 3 1)
	"$BIN/bare" -wasim "$WASIM" -db "$WORK/bare-prof.db" -phone "$me" -to "$to" -n "$N" -cpuprofile "$WORK/bare.pprof" >/dev/null 2>>"$LOGS/bare.log"
	go tool pprof -top -nodecount=30 "$BIN/bare" "$WORK/bare.pprof" >"$OUT/bare.pprof.txt" 2>/dev/null || true
	echo "profiles: $OUT/send.pprof.txt, $OUT/send.pprof.cum.txt, $OUT/bare.pprof.txt" >&2
fi

}

# ---------------------------------------------------------------- 3
section 3 && {
log "3. pacing accuracy: send_delay_ms 200, jitter 0, $PACE_N texts"
me=$(phone 49150 4 1)
start_mg pacing --sandbox-addr "$WASIM"
mgload create -name pace -phone "$me" >/dev/null
for ((r = 1; r <= RUNS; r++)); do
	res=$(mgload send -name pace -to "$(phone 49171 4 "$r")" -from "$me" -n "$PACE_N" -c 1 -delay 200 -gaps)
	echo "$res" >&2
	record pacing "$r" "$res"
done
stop "$MG_PID"

}

# ---------------------------------------------------------------- 4
section 4 && {
log "4. webhooks: backlog drain rate and event → receiver latency"
for ((r = 1; r <= RUNS; r++)); do
	me=$(phone 49150 5 "$r")
	start_mg "hook-$r" --sandbox-addr "$WASIM"
	mgload create -name hook -phone "$me" >/dev/null
	# A backlog of sends (3 events each) and incoming messages behind one held
	# delivery, then released: the drain rate of the delivery worker.
	res=$(mgload webhook -name hook -mode burst -to "$(phone 49171 5 "$r" 1)" -sends "$HOOK_SENDS" -incoming "$HOOK_IN")
	echo "$res" >&2
	record webhook_burst "$r" "$res"
	# Contacts writing at a steady 100 messages/s: latency event → receiver.
	res=$(mgload webhook -name hook -mode live -sends 0 -incoming "$HOOK_IN" -rate 100 -c 4)
	echo "$res" >&2
	record webhook_live_in "$r" "$res"
	# Sending flat out (sent, delivered, read per message) while delivering.
	res=$(mgload webhook -name hook -mode live -to "$(phone 49171 5 "$r" 2)" -sends "$HOOK_SENDS" -incoming 0)
	echo "$res" >&2
	record webhook_live_send "$r" "$res"
	stop "$MG_PID"
done

}

# ---------------------------------------------------------------- 5
section 5 && {
log "5. bytes written per sent message (receipts included)"
for ((r = 1; r <= RUNS; r++)); do
	me=$(phone 49150 6 "$r")
	start_mg "io-$r" --sandbox-addr "$WASIM"
	mgload create -name io -phone "$me" >/dev/null
	sleep 1
	res=$(mgload send -name io -to "$(phone 49171 6 "$r")" -from "$me" -n "$IO_N" -c 8 -wait read -pid "$MG_PID" -db "$MG_DB" -settle 3s)
	echo "$res" >&2
	record io_mg "$r" "$res"
	stop "$MG_PID"
done

if [[ $STRACE == 1 ]]; then
	# pwrite64/write/fsync of every thread; the first 24 bytes of each write
	# (a WAL frame header: page number, commit marker).
	# (exec: $! of "trace … &" must be strace itself.)
	trace() { exec strace -f -ttt -xx -s 24 -e trace=pwrite64,write,fsync,fdatasync -e signal=none -p "$1" -o "$2" 2>>"$LOGS/strace.log"; }
	me=$(phone 49150 7 1)
	start_mg strace --sandbox-addr "$WASIM"
	mgload create -name st -phone "$me" >/dev/null
	trace "$MG_PID" "$WORK/mg.trace" &
	SPID=$!
	PIDS+=("$SPID")
	sleep 1
	res=$(mgload send -name st -to "$(phone 49171 7 1)" -from "$me" -n "$STRACE_N" -c 8 -wait read -settle 2s -mark "$WORK/mg.mark")
	echo "$res" >&2
	kill -INT "$SPID" 2>/dev/null || true
	wait "$SPID" 2>/dev/null || true
	for f in /proc/"$MG_PID"/fd/*; do echo "$(basename "$f") $(readlink "$f")"; done >"$WORK/mg.fds"
	sqlite3 -readonly "$MG_DB" 'SELECT pageno, name FROM dbstat' >"$WORK/mg.pages" 2>/dev/null || : >"$WORK/mg.pages"
	res=$("$BIN/mgload" strace -trace "$WORK/mg.trace" -fds "$WORK/mg.fds" -from "$WORK/mg.mark" -pages "$WORK/mg.pages" -n "$STRACE_N")
	echo "$res" >&2
	record strace_mg 1 "$res"
	stop "$MG_PID"

	# The bare client: the same texts, its own database.
	me=$(phone 49159 7 1)
	printf '$ bare … -n %s -mark …  (under strace)\n' "$STRACE_N" >&2
	"$BIN/bare" -wasim "$WASIM" -db "$WORK/bare-strace.db" -phone "$me" -to "$(phone 49179 7 1)" -n "$STRACE_N" \
		-mark "$WORK/bare.mark" -mark-wait 1s -settle 2s >"$WORK/bare-strace.out" 2>>"$LOGS/bare.log" &
	BPID=$!
	PIDS+=("$BPID")
	sleep 0.2
	trace "$BPID" "$WORK/bare.trace" &
	SPID=$!
	PIDS+=("$SPID")
	wait "$BPID"
	wait "$SPID" 2>/dev/null || true
	res=$("$BIN/mgload" strace -trace "$WORK/bare.trace" -fds "$WORK/bare.mark.fds" -from "$WORK/bare.mark" -n "$STRACE_N")
	echo "$res" >&2
	record strace_bare 1 "$res"
fi

}

# ---------------------------------------------------------------- 6
section 6 && {
log "6. aging: send and webhook drain with $AGED messages of history"
# age DB INSTANCE_ID: history as N sent-and-read messages would leave it:
# a 5-step status history, 3 events and 3 delivered webhook deliveries each.
age() {
	sqlite3 "$1" <<SQL
BEGIN;
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $AGED)
INSERT INTO messages (instance_id, id, direction, chat, recipient, type, text, status, created_at, updated_at, sent_at, history)
SELECT '$2', '3EB0' || hex(randomblob(9)), 'out', printf('49171080%05d@s.whatsapp.net', i % 500), printf('+49171080%05d', i % 500),
       'text', printf('old message %06d', i), 'read', 1700000000000 + i * 1000, 1700000000000 + i * 1000, 1700000000000 + i * 1000,
       (SELECT json_group_array(json_object('status', s, 'error', '', 'at', 1700000000000 + i * 1000))
        FROM (SELECT 'queued' AS s UNION ALL SELECT 'sending' UNION ALL SELECT 'sent' UNION ALL SELECT 'delivered' UNION ALL SELECT 'read'))
FROM c;
INSERT INTO events (instance_id, type, data, created_at)
SELECT m.instance_id, t.type, json_object('id', m.id), m.created_at
FROM messages m, (SELECT 1 AS k, 'message.sent' AS type UNION ALL SELECT 2, 'message.status' UNION ALL SELECT 3, 'message.status') t
WHERE m.instance_id = '$2' AND m.text LIKE 'old message %' ORDER BY m.seq, t.k;
INSERT INTO webhook_deliveries (instance_id, event_id, url, status, attempts, created_at, updated_at, delivered_at)
SELECT instance_id, id, 'http://127.0.0.1:9/old', 'delivered', 1, created_at, created_at, created_at
FROM events WHERE instance_id = '$2' AND data LIKE '{"id":"3EB0%';
INSERT INTO webhook_cursors (instance_id, event_id, updated_at) VALUES ('$2', (SELECT max(id) FROM events), 0)
    ON CONFLICT (instance_id) DO UPDATE SET event_id = excluded.event_id;
COMMIT;
SQL
}
for ((r = 1; r <= RUNS; r++)); do
	me=$(phone 49150 8 "$r")
	start_mg "aged-$r" --sandbox-addr "$WASIM"
	mgload create -name aged -phone "$me" >/dev/null
	iid=$(curl -s -H "Authorization: Bearer $KEY" "$MG_URL/v1/instances/aged" | jq -r .instance.id)
	stop "$MG_PID"
	printf '$ sqlite3 %s  # %s messages of history for instance %s\n' "$MG_DB" "$AGED" "$iid" >&2
	age "$MG_DB" "$iid"
	# The same database again: the instance logs in by itself.
	port=$(freeport)
	MG_URL=http://127.0.0.1:$port
	printf '$ meowgate serve --listen 127.0.0.1:%s --store %s --sandbox-addr %s\n' "$port" "$MG_DB" "$WASIM" >&2
	"$BIN/meowgate" serve --listen "127.0.0.1:$port" --store "$MG_DB" --sandbox-addr "$WASIM" >>"$LOGS/aged-$r.log" 2>&1 &
	MG_PID=$!
	PIDS+=("$MG_PID")
	"$BIN/mgload" ready -url "$MG_URL" >/dev/null
	mgload connected -name aged >/dev/null
	res=$(mgload send -name aged -to "$(phone 49171 8 "$r" 1)" -from "$me" -n "$N" -c 8)
	echo "$res" >&2
	record send_aged "$r" "$res"
	res=$(mgload webhook -name aged -mode burst -to "$(phone 49171 8 "$r" 2)" -sends "$HOOK_SENDS" -incoming "$HOOK_IN")
	echo "$res" >&2
	record webhook_burst_aged "$r" "$res"
	stop "$MG_PID"
done
}

# ---------------------------------------------------------------- summary
log "summary"
"$BIN/report" "$RESULTS" | tee "$OUT/summary.md"
echo >&2
echo "results: $RESULTS, $OUT/summary.md" >&2
