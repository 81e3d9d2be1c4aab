#!/usr/bin/env bash
# bench/run.sh — meowgate's appliance-core benchmarks (docs/benchmarks.md,
# "meowgate appliance core"). Builds everything, then measures on this machine:
#
#   1. binary size (linux/amd64, arm64, arm GOARM=6; -trimpath -ldflags "-s -w")
#   2. start → /readyz 200 with 0, 100 stored and 100 linked instances
#   3. RSS with 0, 10, 100 connected instances, against a bare whatsmeow
#      baseline (bench/baseline) linked to the same wasim process
#   4. API throughput with wrk on GET /v1/instances (1 and 100 instances)
#   5. instance creation latency, sequential and 8 concurrent clients
#
# Everything listens on 127.0.0.1 only; every process it starts is stopped
# and its temporary directory removed on exit. Results go to
# $OUT/results.jsonl and $OUT/summary.md (OUT defaults to bench/results).
#
# Knobs (environment): IDLE=10 (s before sampling RSS), SAMPLES=5,
# RUNS=15 (startup runs), BIG=100 (the "100 instances" count), WRK_D=10s,
# WRK_ROUNDS=3 (alternating rounds of the 1-instance list and bare net/http),
# RSS_LONG=0 (if > 0: also run meowgate and the baseline with BIG linked
# instances side by side for that many seconds, sampling every 30 s),
# PROFILE=1 (CPU profiles of the wrk runs through bench/apiprof, written to
# $OUT/*.pprof.txt), KEEP=1 (keep the temp dir), MEOWGATE_SRC (benchmark
# another checkout; default: this one).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=${MEOWGATE_SRC:-$ROOT}
OUT=${OUT:-$ROOT/bench/results}
IDLE=${IDLE:-10}
SAMPLES=${SAMPLES:-5}
RUNS=${RUNS:-15}
BIG=${BIG:-100}
WRK_D=${WRK_D:-10s}
WRK_ROUNDS=${WRK_ROUNDS:-3}
PROFILE=${PROFILE:-0}
RSS_LONG=${RSS_LONG:-0}

for tool in go wrk; do
	command -v "$tool" >/dev/null || {
		echo "bench: $tool is needed (wrk: apt-get install -y wrk)" >&2
		exit 1
	}
done

. "$ROOT/bench/lib.sh"
bench_setup meowgate-bench
# This script's results carry no run number: its own record replaces lib's.
# show prints a command as it will run; run prints it, then runs it. (A
# background job is started directly, never through run: $! would be the
# subshell's pid, not the program's.)
show() {
	printf '$' >&2
	printf ' %q' "$@" >&2
	printf '\n' >&2
}
run() {
	show "$@"
	"$@"
}
record() { printf '{"key":"%s","data":%s}\n' "$1" "$2" >>"$RESULTS"; }
# phase NAME: records the load average as the phase starts (the machine may
# be shared; figures taken under load are noisier and lower).
phase() {
	log "$1"
	record "load_$2" "{\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
}


export MEOWGATE_API_ADMIN_KEY=bench-admin-key-7c1f0e2a9b3d4c5e6f708192a3b4c5d6
export MEOWGATE_LOG_LEVEL=warn
export MEOWGATE_API_RATE_LIMIT=100000000
export MEOWGATE_API_RATE_BURST=100000000
export MEOWGATE_API_CREATE_PER_MINUTE=100000000
unset MEOWGATE_CONFIG MEOWGATE_STORE_PATH MEOWGATE_SERVER_LISTEN STATE_DIRECTORY
KEY=$MEOWGATE_API_ADMIN_KEY

# start_mg NAME DB [ARGS…]: starts meowgate serve on a free port; sets MG_PID
# and MG_URL and waits for /readyz.
start_mg() {
	local name=$1 db=$2
	shift 2
	local port
	port=$(freeport)
	MG_URL=http://127.0.0.1:$port
	show meowgate serve --listen "127.0.0.1:$port" --store "$db" "$@"
	"$BIN/meowgate" serve --listen "127.0.0.1:$port" --store "$db" "$@" >>"$LOGS/$name.log" 2>&1 &
	MG_PID=$!
	PIDS+=("$MG_PID")
	"$BIN/populate" -url "$MG_URL" -ready -timeout 60s >/dev/null
}

populate() { "$BIN/populate" -url "$MG_URL" "$@"; }

# ---------------------------------------------------------------- build
# The bench programs are built from MEOWGATE_SRC if that checkout has its own
# bench/, else from this one.
TOOLSRC=$ROOT
[[ -f $SRC/bench/baseline/main.go ]] && TOOLSRC=$SRC
log "machine"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
commit=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$SRC" status --porcelain 2>/dev/null | grep -v '^?? bench/' | grep -c . || true)
record params "$(printf '{"idle_s":%s,"samples":%s,"runs":%s,"big":%s,"wrk_d":"%s"}' "$IDLE" "$SAMPLES" "$RUNS" "$BIG" "$WRK_D")"
record machine "$(printf '{"nproc":%s,"cpu":"%s","kernel":"%s","go":"%s","date":"%s","source":"%s","mem_total":"%s"}' \
	"$(nproc)" "$cpu" "$(uname -sr)" "$(go version | cut -d' ' -f3-)" "$(date -u +%Y-%m-%dT%H:%MZ)" \
	"$commit$([[ $dirty -gt 0 ]] && echo " + $dirty uncommitted changes")" "$(free -m | awk '/^Mem:/{print $2" MiB"}')")"
echo "$(nproc) × $cpu; $(go version)" >&2

phase "1. binary size" size
cd "$SRC"
run env CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN/meowgate" .
record size_amd64 "{\"bytes\":$(stat -c %s "$BIN/meowgate")}"
run env CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -trimpath -ldflags "-s -w" -o "$BIN/meowgate-arm64" .
record size_arm64 "{\"bytes\":$(stat -c %s "$BIN/meowgate-arm64")}"
run env CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=6 go build -trimpath -ldflags "-s -w" -o "$BIN/meowgate-arm6" .
record size_arm6 "{\"bytes\":$(stat -c %s "$BIN/meowgate-arm6")}"
# The floor: a bare whatsmeow client over a modernc SQLite store, same flags.
(cd "$TOOLSRC" && run env CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN/sizefloor" ./bench/sizefloor)
record size_floor "{\"bytes\":$(stat -c %s "$BIN/sizefloor")}"
ls -l "$BIN"/meowgate* "$BIN/sizefloor" | awk '{printf "%12d  %s\n", $5, $NF}' >&2

# The simulator, the baseline and the drivers, built the same way.
run env CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN/wasim" ./cmd/wasim
(cd "$TOOLSRC" && for p in baseline startup populate createlat rss report apiprof httpfloor; do
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN/$p" "./bench/$p"
done)

# The simulator runs in its own process for the whole benchmark, so its
# memory is never counted.
WPORT=$(freeport)
WASIM=127.0.0.1:$WPORT
show "$BIN/wasim" -addr "$WASIM" -db "$WORK/wasim.db"
"$BIN/wasim" -addr "$WASIM" -db "$WORK/wasim.db" >"$LOGS/wasim.out" 2>"$LOGS/wasim.log" &
WASIM_PID=$!
PIDS+=("$WASIM_PID")
for ((i = 0; i < 100; i++)); do
	(exec 3<>"/dev/tcp/127.0.0.1/$WPORT") 2>/dev/null && break
	sleep 0.1
done

# ---------------------------------------------------------------- RSS
phase "3. RSS (idle ${IDLE}s, median of $SAMPLES samples)" rss
sample() { sleep "$IDLE"; "$BIN/rss" -pid "$1" -samples "$SAMPLES"; }

# Plain, no sandbox, no instances.
start_mg rss-plain "$WORK/rss-plain.db"
r=$(sample "$MG_PID")
record rss_mg_plain_0 "$r"
echo "meowgate, 0 instances, no sandbox: $r" >&2
stop "$MG_PID"

# base_run KEY DB N PHONE_PREFIX: the baseline links N clients (or logs in the
# ones in DB), idles, and is sampled from outside like meowgate.
base_run() {
	local key=$1 db=$2 n=$3 phones=$4 out=$WORK/$1.out
	show baseline -wasim "$WASIM" -db "$db" -n "$n" -phone-prefix "$phones" -idle "${IDLE}s" -hold
	"$BIN/baseline" -wasim "$WASIM" -db "$db" -n "$n" -phone-prefix "$phones" -idle "${IDLE}s" -hold >"$out" 2>>"$LOGS/$key.log" &
	local pid=$!
	PIDS+=("$pid")
	local i
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
	local r
	r=$(sample "$pid")
	record "$key" "$r"
	echo "baseline $key: $r (self-reported: $(tail -n1 "$out"))" >&2
	stop "$pid"
}

# Distinct phone numbers per scenario (PREFIX + 8 digits).
declare -A MG_PHONES=([10]=+49151 [$BIG]=+49152) BASE_PHONES=([0]=+49160 [10]=+49161 [$BIG]=+49162)
sizes=(0 10)
[[ $BIG -gt 10 ]] && sizes+=("$BIG")
for n in "${sizes[@]}"; do
	# meowgate: link n instances in this process, idle, sample.
	db=$WORK/rss-mg-$n.db
	start_mg "rss-mg-$n" "$db" --sandbox-addr "$WASIM"
	if [[ $n -gt 0 ]]; then
		run "$BIN/populate" -url "$MG_URL" -n "$n" -link -prefix "m$n" -phone-prefix "${MG_PHONES[$n]}" >&2
	fi
	r=$(sample "$MG_PID")
	record "rss_mg_link_$n" "$r"
	echo "meowgate, $n linked in-process: $r" >&2
	stop "$MG_PID"
	if [[ $n -gt 0 ]]; then
		# Restart: the linked instances log in again without pairing.
		start_mg "rss-mg-$n-restart" "$db" --sandbox-addr "$WASIM"
		run "$BIN/populate" -url "$MG_URL" -wait "$n" >&2
		r=$(sample "$MG_PID")
		record "rss_mg_login_$n" "$r"
		echo "meowgate, $n restarted (login): $r" >&2
		stop "$MG_PID"
	fi

	# baseline: the same, with plain whatsmeow clients.
	bdb=$WORK/rss-base-$n.db
	base_run "rss_base_link_$n" "$bdb" "$n" "${BASE_PHONES[$n]}"
	if [[ $n -gt 0 ]]; then
		base_run "rss_base_login_$n" "$bdb" "$n" "${BASE_PHONES[$n]}"
	fi
done

# Side by side over a longer idle: a 10 s sample catches each process at
# some point of its GC cycle; over minutes both settle (periodic GC every
# 2 min, the scavenger returns what is above the heap goal).
if [[ $RSS_LONG -gt 0 ]]; then
	phase "3b. RSS side by side, ${RSS_LONG}s, $BIG instances restarted (login)" rss_long
	start_mg rss-long "$WORK/rss-mg-$BIG.db" --sandbox-addr "$WASIM"
	lmg=$MG_PID
	populate -wait "$BIG" >&2
	show baseline -wasim "$WASIM" -db "$WORK/rss-base-$BIG.db" -idle "${RSS_LONG}s" -hold
	"$BIN/baseline" -wasim "$WASIM" -db "$WORK/rss-base-$BIG.db" -idle "${RSS_LONG}s" -hold >"$WORK/long.out" 2>>"$LOGS/rss_long.log" &
	lb=$!
	PIDS+=("$lb")
	for ((i = 0; i < 3000; i++)); do
		grep -q '^READY' "$WORK/long.out" && break
		sleep 0.1
	done
	n=$((RSS_LONG / 30 > 0 ? RSS_LONG / 30 : 1))
	"$BIN/rss" -pid "$lmg" -samples "$n" -interval 30s >"$WORK/long-mg.json" &
	r1=$!
	"$BIN/rss" -pid "$lb" -samples "$n" -interval 30s >"$WORK/long-base.json" &
	r2=$!
	PIDS+=("$r1" "$r2")
	wait "$r1" "$r2"
	record rss_mg_long "$(cat "$WORK/long-mg.json")"
	record rss_base_long "$(cat "$WORK/long-base.json")"
	echo "meowgate: $(cat "$WORK/long-mg.json")" >&2
	echo "baseline: $(cat "$WORK/long-base.json")" >&2
	stop "$lb"
	stop "$lmg"
fi

# ---------------------------------------------------------------- startup
phase "2. start → /readyz 200 (median of $RUNS runs)" startup
# An empty database that has been migrated once (a first start also creates
# the file and applies the migrations).
"$BIN/startup" -bin "$BIN/meowgate" -store "$WORK/start-empty.db" -runs 1 >/dev/null
r=$(run "$BIN/startup" -bin "$BIN/meowgate" -store "$WORK/start-empty.db" -runs "$RUNS" -log "$LOGS/startup.log")
record startup_empty "$r"
echo "$r" >&2

start_mg start-100 "$WORK/start-100.db"
populate -n "$BIG" -prefix s -expect "$BIG" >/dev/null
stop "$MG_PID"
r=$(run "$BIN/startup" -bin "$BIN/meowgate" -store "$WORK/start-100.db" -runs "$RUNS" -log "$LOGS/startup.log")
record startup_100 "$r"
echo "$r" >&2

# The BIG linked instances of the RSS run (desired running): every start logs
# them all in against wasim; also timed until all are connected.
cp "$WORK/rss-mg-$BIG.db" "$WORK/start-linked.db"
r=$(run "$BIN/startup" -bin "$BIN/meowgate" -store "$WORK/start-linked.db" -runs "$RUNS" \
	-sandbox-addr "$WASIM" -wait-connected "$BIG" -log "$LOGS/startup.log")
record startup_100_linked "$r"
echo "$r" >&2

# ---------------------------------------------------------------- wrk
phase "4. API throughput (wrk)" wrk
# wrk_run KEY URL [AUTH [EXTRA_JSON]]: records requests/s, non-2xx and mean
# latency.
wrk_run() {
	local key=$1 url=$2 auth=${3:-} out=$WORK/$1.wrk
	local hdr=()
	[[ -n $auth ]] && hdr=(-H "Authorization: Bearer $auth")
	if [[ -n $auth ]]; then
		show wrk -t2 -c32 -d"$WRK_D" -H "Authorization: Bearer KEY" "$url"
	else
		show wrk -t2 -c32 -d"$WRK_D" "$url"
	fi
	wrk -t2 -c32 -d"$WRK_D" "${hdr[@]}" "$url" >"$out"
	cat "$out" >&2
	local rps non2xx lat
	rps=$(awk '/^Requests\/sec:/{print $2}' "$out")
	non2xx=$(awk '/Non-2xx or 3xx responses:/{print $NF}' "$out")
	lat=$(awk '$1=="Latency"{print $2; exit}' "$out")
	record "$key" "$(printf '{"rps":%s,"non2xx":%s,"lat_avg":"%s"%s}' "$rps" "${non2xx:-0}" "$lat" "${4:-}")"
}

start_mg wrk "$WORK/wrk.db"
populate -n 1 -prefix w -expect 1 >/dev/null
wrk -t2 -c32 -d2s -H "Authorization: Bearer $KEY" "$MG_URL/v1/instances" >/dev/null # warm-up
b=$(populate -expect 1 | sed -n 's/.*"list_bytes":\([0-9]*\).*/\1/p')
# The HTTP stack's ceiling: bare net/http answering the same body size,
# with and without meowgate's default server timeouts. One 10 s wrk run
# here swings by ±15 %, so the three are measured in alternation,
# WRK_ROUNDS times, and the report takes medians.
declare -A FLOOR_URL
for t in true false; do
	port=$(freeport)
	"$BIN/httpfloor" -listen "127.0.0.1:$port" -body "$b" -timeouts=$t >>"$LOGS/httpfloor.log" 2>&1 &
	PIDS+=("$!")
	FLOOR_URL[$t]=http://127.0.0.1:$port/
	for _ in $(seq 50); do curl -sf -o /dev/null "${FLOOR_URL[$t]}" && break; sleep 0.1; done
	wrk -t2 -c32 -d2s "${FLOOR_URL[$t]}" >/dev/null # warm-up
done
for ((round = 1; round <= WRK_ROUNDS; round++)); do
	wrk_run wrk_1 "$MG_URL/v1/instances" "$KEY" ",\"list_bytes\":$b"
	wrk_run wrk_floor_true "${FLOOR_URL[true]}"
	wrk_run wrk_floor_false "${FLOOR_URL[false]}"
done
populate -n "$((BIG - 1))" -prefix x -expect "$BIG" >/dev/null
b=$(populate -expect "$BIG" | sed -n 's/.*"list_bytes":\([0-9]*\).*/\1/p')
wrk_run wrk_100 "$MG_URL/v1/instances" "$KEY" ",\"list_bytes\":$b"
wrk_run wrk_healthz "$MG_URL/healthz"
stop "$MG_PID"

# ---------------------------------------------------------------- create
phase "5. instance creation latency" create
start_mg create "$WORK/create.db"
r=$(run "$BIN/createlat" -url "$MG_URL" -seq 1000 -conc 8 -per 250) || {
	echo "bench: createlat reported failures: $r" >&2
}
record create "$r"
echo "$r" >&2
stop "$MG_PID"
# The floor: the same client POSTing to bare net/http (no database).
port=$(freeport)
"$BIN/httpfloor" -listen "127.0.0.1:$port" -body 1000 >>"$LOGS/httpfloor.log" 2>&1 &
FLOOR_PID=$!
PIDS+=("$FLOOR_PID")
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
r=$(run "$BIN/createlat" -url "http://127.0.0.1:$port" -want 200 -seq 1000 -conc 8 -per 250) || true
record create_floor "$r"
stop "$FLOOR_PID"

stop "$WASIM_PID"

# ---------------------------------------------------------------- profile
if [[ $PROFILE == 1 ]]; then
	phase "profile: GET /v1/instances under wrk, in-process API (bench/apiprof)" profile
	for n in 1 "$BIG"; do
		aport=$(freeport) pport=$(freeport)
		show "$BIN/apiprof" -listen "127.0.0.1:$aport" -pprof "127.0.0.1:$pport" -n "$n" -key KEY
		"$BIN/apiprof" -listen "127.0.0.1:$aport" -pprof "127.0.0.1:$pport" -n "$n" -key "$KEY" >"$LOGS/apiprof.out" 2>&1 &
		apid=$!
		PIDS+=("$apid")
		MG_URL=http://127.0.0.1:$aport populate -ready -expect "$n" >/dev/null
		wrk -t2 -c32 -d"$WRK_D" -H "Authorization: Bearer $KEY" "http://127.0.0.1:$aport/v1/instances" >"$WORK/prof-$n.wrk" &
		wpid=$!
		PIDS+=("$wpid")
		sleep 1
		run go tool pprof -proto -output "$WORK/prof-$n.pb" "http://127.0.0.1:$pport/debug/pprof/profile?seconds=8" 2>/dev/null
		wait "$wpid"
		grep 'Requests/sec' "$WORK/prof-$n.wrk" >&2
		{
			grep 'Requests/sec' "$WORK/prof-$n.wrk"
			go tool pprof -top -cum -nodecount=40 "$BIN/apiprof" "$WORK/prof-$n.pb" 2>/dev/null
			go tool pprof -top -nodecount=25 "$BIN/apiprof" "$WORK/prof-$n.pb" 2>/dev/null
		} >"$OUT/profile-list-$n.pprof.txt"
		echo "profile: $OUT/profile-list-$n.pprof.txt" >&2
		stop "$apid"
	done
fi

# ---------------------------------------------------------------- summary
log "summary"
"$BIN/report" "$RESULTS" | tee "$OUT/summary.md"
echo >&2
echo "results: $RESULTS, $OUT/summary.md" >&2
