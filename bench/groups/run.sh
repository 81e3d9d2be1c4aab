#!/usr/bin/env bash
# bench/groups/run.sh — meowgate's group benchmarks (docs/benchmarks.md,
# "Groups (issue 10)"). Builds everything, starts one wasim simulator in its
# own process (receipts without delay) and, per run, fresh meowgate
# processes on fresh databases, and measures against bare whatsmeow on the
# same simulator, in alternating order:
#
#   1. send rate to a group of 50 members (the sender and 49 contacts, each
#      contact with its phone and one more device: AddContactDevice through
#      the control API): N texts with send_delay_ms 0, first POST → last
#      message.sent, vs a bare whatsmeow client (bench/groups/bare) calling
#      SendMessage N times in a loop; each side has its own group and
#      number, and a contact's phone must have decrypted all N
#   2. RSS of 100 connected instances that are each in 20 groups (20 groups
#      owned by a contact, each with all 100 instance numbers and 5
#      contacts: 105 members), created before linking; GET …/groups once
#      per instance, then idle, vs the baseline (bench/baseline: 100
#      whatsmeow clients in one process, GetJoinedGroups once each); the
#      same 100 without groups in the same run, for the ratio of today
#
# Only 127.0.0.1 is used; every process started here is stopped and the
# temporary directory removed on exit. Results: $OUT/results.jsonl,
# $OUT/summary.md (OUT defaults to bench/groups/results).
#
# Knobs (environment): ONLY="1 2", RUNS=3 (section 1), RSS_RUNS=1
# (section 2), N=100 (texts per send run), MEMBERS=50, INSTANCES=100,
# NGROUPS=20, IDLE=10 (s before sampling RSS), SAMPLES=5, KEEP=1.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${OUT:-$HERE/results}
ONLY=" ${ONLY:-1 2} "
RUNS=${RUNS:-3}
RSS_RUNS=${RSS_RUNS:-1}
N=${N:-100}
MEMBERS=${MEMBERS:-50}
INSTANCES=${INSTANCES:-100}
NGROUPS=${NGROUPS:-20}
IDLE=${IDLE:-10}
SAMPLES=${SAMPLES:-5}
section() { [[ $ONLY == *" $1 "* ]]; }
command -v jq >/dev/null || {
	echo "bench: jq not found (apt-get install -y jq)" >&2
	exit 1
}

. "$ROOT/bench/lib.sh"
bench_setup meowgate-groupbench

export MEOWGATE_API_ADMIN_KEY=bench-admin-key-5e0c7d1a2b3c4d5e6f708192a3b4c5d6
export MEOWGATE_LOG_LEVEL=warn
export MEOWGATE_API_RATE_LIMIT=100000000
export MEOWGATE_API_RATE_BURST=100000000
export MEOWGATE_API_CREATE_PER_MINUTE=100000000
export MEOWGATE_WHATSAPP_DEFAULTS_SEND_DELAY_MS=0
unset MEOWGATE_CONFIG MEOWGATE_STORE_PATH MEOWGATE_SERVER_LISTEN MEOWGATE_MEDIA_DIR STATE_DIRECTORY

# start_mg NAME: a meowgate on a free port with a fresh database; sets
# MG_PID, MG_URL.
start_mg() {
	local name=$1 port
	port=$(freeport)
	MG_URL=http://127.0.0.1:$port
	printf '$ meowgate serve --listen 127.0.0.1:%s --store %s --sandbox-addr %s\n' "$port" "$WORK/$name.db" "$WASIM" >&2
	MEOWGATE_MEDIA_DIR=$WORK/$name.media "$BIN/meowgate" serve --listen "127.0.0.1:$port" --store "$WORK/$name.db" --sandbox-addr "$WASIM" >>"$LOGS/$name.log" 2>&1 &
	MG_PID=$!
	PIDS+=("$MG_PID")
	"$BIN/mgload" ready -url "$MG_URL" >/dev/null
}
# run_tool NAME ARGS…: prints the command, runs it, returns its JSON line.
run_tool() {
	printf '$ %s\n' "$*" >&2
	"$BIN/$1" "${@:2}" 2>>"$LOGS/$1.log"
}

# ---------------------------------------------------------------- build
log "machine and build"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
record machine 0 "$(printf '{"nproc":%s,"cpu":"%s","go":"%s","date":"%s","commit":"%s","load":"%s"}' \
	"$(nproc)" "$cpu" "$(go version | cut -d' ' -f3)" "$(date -u +%Y-%m-%dT%H:%MZ)" "$commit" "$(cut -d' ' -f1-3 /proc/loadavg)")"
echo "$(nproc) × $cpu; $(go version); commit $commit" >&2
(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$BIN/meowgate" . &&
	for p in cmd/wasim bench/messaging/mgload bench/populate bench/baseline bench/rss bench/groups/grload bench/groups/bare; do
		CGO_ENABLED=0 go build -trimpath -o "$BIN/$(basename "$p")" "./$p" || exit 1
	done)

WPORT=$(freeport)
WASIM=127.0.0.1:$WPORT
printf '$ wasim -addr %s -db %s -delivery-delay 0 -read-delay 0\n' "$WASIM" "$WORK/wasim.db" >&2
"$BIN/wasim" -addr "$WASIM" -db "$WORK/wasim.db" -media "$WORK/wasim-media" -delivery-delay 0 -read-delay 0 >"$LOGS/wasim.out" 2>"$LOGS/wasim.log" &
WASIM_PID=$!
PIDS+=("$WASIM_PID")
# cpu_ms PID: user + system CPU time of a process so far, in ms.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' "/proc/$1/stat"; }
# with_cpu JSON MG_CPU0 MG_PID W_CPU0: adds the CPU time meowgate (if a pid)
# and wasim spent since the given readings, per message.
with_cpu() {
	local mg=null
	[[ -n $3 ]] && mg=$(($(cpu_ms "$3") - $2))
	jq -c --argjson mg "$mg" --argjson w $(($(cpu_ms "$WASIM_PID") - $4)) \
		'. + {wasim_cpu_ms_per_msg: ($w / .n)} + (if $mg == null then {} else {mg_cpu_ms_per_msg: ($mg / .n)} end)' <<<"$1"
}
for ((i = 0; i < 100; i++)); do
	(exec 3<>/dev/tcp/127.0.0.1/$WPORT) 2>/dev/null && break
	sleep 0.1
done

# ---------------------------------------------------------------- 1
section 1 && {
log "1. $N texts to a group of $MEMBERS members with 2 devices each: meowgate vs bare whatsmeow (alternating)"
# The sender and MEMBERS-1 contacts +4917210001…, shared by all runs; each
# contact gets its second device once.
NC=$((MEMBERS - 1))
CONTACTS=+491721
LAST=$(printf '%s%04d' "$CONTACTS" "$NC")
res=$(run_tool grload contacts -wasim "$WASIM" -prefix "$CONTACTS" -n "$NC" -devices 1)
echo "$res" >&2
record contacts 0 "$res"
# group ME SUBJECT: a group owned by the first contact, with the others and ME.
group() { run_tool grload groups -wasim "$WASIM" -count 1 -contacts "$CONTACTS" -nc "$NC" -member "$1" -subject "$2" | jq -r '.jids[0]'; }
mg_send() {
	local r=$1 me=+4915001$(printf %02d "$r")0001 gid
	gid=$(group "$me" "mg $r")
	start_mg "send-$r"
	"$BIN/mgload" create -url "$MG_URL" -name g -phone "$me" >/dev/null
	local c0 w0
	c0=$(cpu_ms "$MG_PID") w0=$(cpu_ms "$WASIM_PID")
	res=$(run_tool grload send -url "$MG_URL" -name g -group "$gid" -n "$N")
	res=$(with_cpu "$res" "$c0" "$MG_PID" "$w0")
	echo "$res" >&2
	run_tool grload inbox -wasim "$WASIM" -phone "$LAST" -group "$gid" -want "$N" >&2
	record send_mg "$r" "$res"
	stop "$MG_PID"
}
bare_send() {
	local r=$1 me=+4915901$(printf %02d "$r")0001 gid
	gid=$(group "$me" "bare $r")
	local w0
	w0=$(cpu_ms "$WASIM_PID")
	res=$(run_tool bare -wasim "$WASIM" -db "$WORK/bare-$r.db" -phone "$me" -group "$gid" -n "$N")
	res=$(with_cpu "$res" 0 "" "$w0")
	echo "$res" >&2
	run_tool grload inbox -wasim "$WASIM" -phone "$LAST" -group "$gid" -want "$N" >&2
	record send_bare "$r" "$res"
}
for ((r = 1; r <= RUNS; r++)); do
	if ((r % 2)); then mg_send "$r"; bare_send "$r"; else bare_send "$r"; mg_send "$r"; fi
done
}

# ---------------------------------------------------------------- 2
section 2 && {
log "2. RSS of $INSTANCES connected instances in $NGROUPS groups each: meowgate vs baseline (idle ${IDLE}s, median of $SAMPLES samples)"
sample() { sleep "$IDLE"; "$BIN/rss" -pid "$1" -samples "$SAMPLES"; }
# Accounts are PREFIX + 8 digits: meowgate +4915S R…, baseline +4916S R…,
# S = 3 with groups, 4 without; R the run (1–9).
# groups_for PREFIX: NGROUPS groups owned by contact +4917220001, each with
# all INSTANCES accounts PREFIX00000000… and 4 more contacts.
groups_for() {
	run_tool grload groups -wasim "$WASIM" -count "$NGROUPS" -contacts +491722 -nc 5 -phones "$1" -np "$INSTANCES" -subject "rss $1" | jq -c 'del(.jids)' >&2
}
mg_rss() {
	local r=$1 g=$2 key prefix
	prefix=+4915$((g ? 3 : 4))$r
	key=rss_mg_$((g ? NGROUPS : 0))
	((g)) && groups_for "$prefix"
	start_mg "rss-$g-$r"
	run_tool populate -url "$MG_URL" -n "$INSTANCES" -link -prefix g -phone-prefix "$prefix" >&2
	((g)) && run_tool grload fetch -url "$MG_URL" -prefix g -n "$INSTANCES" -want "$NGROUPS" >&2
	res=$(sample "$MG_PID")
	echo "meowgate, $INSTANCES instances, $((g ? NGROUPS : 0)) groups each: $res" >&2
	record "$key" "$r" "$res"
	stop "$MG_PID"
}
base_rss() {
	local r=$1 g=$2 key prefix out=$WORK/base-$1-$2.out pid i
	prefix=+4916$((g ? 3 : 4))$r
	key=rss_base_$((g ? NGROUPS : 0))
	((g)) && groups_for "$prefix"
	printf '$ baseline -wasim %s -db … -n %s -phone-prefix %s -groups %s -idle %ss -hold\n' "$WASIM" "$INSTANCES" "$prefix" "$((g ? NGROUPS : 0))" "$IDLE" >&2
	"$BIN/baseline" -wasim "$WASIM" -db "$WORK/base-$r-$g.db" -n "$INSTANCES" -phone-prefix "$prefix" -groups "$((g ? NGROUPS : 0))" -idle "${IDLE}s" -hold >"$out" 2>>"$LOGS/baseline.log" &
	pid=$!
	PIDS+=("$pid")
	for ((i = 0; i < 3000; i++)); do
		grep -q '^READY' "$out" && break
		kill -0 "$pid" 2>/dev/null || {
			echo "bench: baseline exited early" >&2
			return 1
		}
		sleep 0.1
	done
	grep -q '^READY' "$out" || {
		echo "bench: baseline not ready" >&2
		return 1
	}
	res=$(sample "$pid")
	echo "baseline, $INSTANCES clients, $((g ? NGROUPS : 0)) groups each: $res" >&2
	record "$key" "$r" "$res"
	stop "$pid"
}
for ((r = 1; r <= RSS_RUNS; r++)); do
	for g in 1 0; do
		if ((r % 2)); then mg_rss "$r" "$g"; base_rss "$r" "$g"; else base_rss "$r" "$g"; mg_rss "$r" "$g"; fi
	done
done
}

# ---------------------------------------------------------------- summary
log "summary"
"$HERE/summary.sh" "$RESULTS" | tee "$OUT/summary.md"
echo >&2
echo "results: $RESULTS, $OUT/summary.md" >&2
