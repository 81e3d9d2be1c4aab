#!/usr/bin/env bash
# bench/media/run.sh — meowgate's media benchmarks (docs/benchmarks.md,
# "Media (issue 9)"). Builds everything, starts one wasim simulator in its
# own process (receipts without delay) and, per run, a fresh meowgate on a
# fresh database, and measures against a bare whatsmeow client
# (bench/media/bare) on the same simulator, in alternating order:
#
#   1. one 64 MiB MP4 video sent by multipart upload: meowgate's RSS growth
#      (VmRSS sampled every 5 ms and VmHWM reset before the POST) and the
#      time POST → message.sent (enqueue/staging noted separately), vs the
#      bare client's UploadReader + SendMessage of the same file
#   2. 200 incoming JPEGs of ~200 KB sent by simulated contacts through
#      wasim's control API, auto_download on: first send → last file in the
#      media directory, vs the bare client downloading each (DownloadToFile,
#      4 at once, fsync + rename as meowgate does)
#   3. bytes written to SQLite (main file + WAL, by strace) per sent small
#      image vs per sent text, receipts included; /proc/PID/io for the whole
#      process besides
#
# Only 127.0.0.1 is used; every process started here is stopped and the
# temporary directory removed on exit. Results: $OUT/results.jsonl,
# $OUT/summary.md (OUT defaults to bench/media/results).
#
# Knobs (environment): ONLY="1 2 3", RUNS=3, VIDEO_MIB=64, IN_N=200,
# IN_KB=200, IO_N=100, IO_KB=8, KEEP=1 (keep the temp dir).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${OUT:-$HERE/results}
ONLY=" ${ONLY:-1 2 3} "
RUNS=${RUNS:-3}
VIDEO_MIB=${VIDEO_MIB:-64}
IN_N=${IN_N:-200}
IN_KB=${IN_KB:-200}
IO_N=${IO_N:-100}
IO_KB=${IO_KB:-8}
section() { [[ $ONLY == *" $1 "* ]]; }
if [[ $ONLY == *" 3 "* ]] && ! command -v strace >/dev/null; then
	echo "bench: strace not found (apt-get install -y strace); skipping section 3" >&2
	ONLY=${ONLY/ 3 / }
fi
command -v jq >/dev/null || {
	echo "bench: jq not found (apt-get install -y jq)" >&2
	exit 1
}

. "$ROOT/bench/lib.sh"
bench_setup meowgate-mediabench

export MEOWGATE_API_ADMIN_KEY=bench-admin-key-5e0c7d1a2b3c4d5e6f708192a3b4c5d6
export MEOWGATE_LOG_LEVEL=warn
export MEOWGATE_API_RATE_LIMIT=100000000
export MEOWGATE_API_RATE_BURST=100000000
export MEOWGATE_WHATSAPP_DEFAULTS_SEND_DELAY_MS=0
unset MEOWGATE_CONFIG MEOWGATE_STORE_PATH MEOWGATE_SERVER_LISTEN MEOWGATE_MEDIA_DIR STATE_DIRECTORY

# start_mg NAME: a meowgate on a free port with a fresh database and media
# directory ($WORK/NAME.media); sets MG_PID, MG_URL, MG_DB, MG_MEDIA.
start_mg() {
	local name=$1 port
	port=$(freeport)
	MG_URL=http://127.0.0.1:$port
	MG_DB=$WORK/$name.db
	MG_MEDIA=$WORK/$name.media
	printf '$ MEOWGATE_MEDIA_DIR=%s meowgate serve --listen 127.0.0.1:%s --store %s --sandbox-addr %s\n' "$MG_MEDIA" "$port" "$MG_DB" "$WASIM" >&2
	MEOWGATE_MEDIA_DIR=$MG_MEDIA "$BIN/meowgate" serve --listen "127.0.0.1:$port" --store "$MG_DB" --sandbox-addr "$WASIM" >>"$LOGS/$name.log" 2>&1 &
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
	CGO_ENABLED=0 go build -trimpath -o "$BIN/wasim" ./cmd/wasim &&
	CGO_ENABLED=0 go build -trimpath -o "$BIN/mgload" ./bench/messaging/mgload &&
	CGO_ENABLED=0 go build -trimpath -o "$BIN/mdload" ./bench/media/mdload &&
	CGO_ENABLED=0 go build -trimpath -o "$BIN/bare" ./bench/media/bare)

WPORT=$(freeport)
WASIM=127.0.0.1:$WPORT
printf '$ wasim -addr %s -db %s -media %s -delivery-delay 0 -read-delay 0\n' "$WASIM" "$WORK/wasim.db" "$WORK/wasim-media" >&2
"$BIN/wasim" -addr "$WASIM" -db "$WORK/wasim.db" -media "$WORK/wasim-media" -delivery-delay 0 -read-delay 0 >"$LOGS/wasim.out" 2>"$LOGS/wasim.log" &
PIDS+=($!)
for ((i = 0; i < 100; i++)); do
	(exec 3<>/dev/tcp/127.0.0.1/$WPORT) 2>/dev/null && break
	sleep 0.1
done

# Phone numbers: instances +49150SSRRxxxx, bare +49159SSRRxxxx, contacts
# +49171…/+49179…, where SS is the section and RR the run.
phone() { printf '+%s%02d%02d%04d' "$1" "$2" "$3" "${4:-1}"; }

# ---------------------------------------------------------------- 1
section 1 && {
log "1. one ${VIDEO_MIB} MiB video: meowgate vs bare whatsmeow (alternating)"
VIDEO=$("$BIN/mdload" mp4 -dir "$WORK" -mib "$VIDEO_MIB")
ls -l "$VIDEO" >&2
mg_video() {
	local r=$1 me
	me=$(phone 49150 1 "$r")
	start_mg "video-$r"
	"$BIN/mgload" create -url "$MG_URL" -name v -phone "$me" >/dev/null
	sleep 1 # let the login's writes settle before the baseline RSS
	res=$(run_tool mdload video -url "$MG_URL" -name v -to "$(phone 49171 1 "$r")" -file "$VIDEO" -pid "$MG_PID")
	echo "$res" >&2
	record video_mg "$r" "$res"
	stop "$MG_PID"
}
bare_video() {
	local r=$1
	res=$(run_tool bare -mode video -wasim "$WASIM" -db "$WORK/bare-video-$r.db" -phone "$(phone 49159 1 "$r")" -to "$(phone 49179 1 "$r")" -file "$VIDEO")
	echo "$res" >&2
	record video_bare "$r" "$res"
}
for ((r = 1; r <= RUNS; r++)); do
	if ((r % 2)); then mg_video "$r"; bare_video "$r"; else bare_video "$r"; mg_video "$r"; fi
done
rm -f "$VIDEO"
}

# ---------------------------------------------------------------- 2
section 2 && {
log "2. $IN_N incoming ${IN_KB} KB images, auto_download: meowgate vs bare whatsmeow (alternating)"
mg_in() {
	local r=$1 me
	me=$(phone 49150 2 "$r")
	start_mg "in-$r"
	"$BIN/mgload" create -url "$MG_URL" -name in -phone "$me" >/dev/null
	res=$(run_tool mdload incoming -url "$MG_URL" -name in -wasim "$WASIM" -phone "$me" -from "+4917102$(printf %02d "$r")" -dir "$MG_MEDIA" -n "$IN_N" -size $((IN_KB * 1000)))
	echo "$res" >&2
	record in_mg "$r" "$res"
	stop "$MG_PID"
}
bare_in() {
	local r=$1
	res=$(run_tool bare -mode incoming -wasim "$WASIM" -db "$WORK/bare-in-$r.db" -phone "$(phone 49159 2 "$r")" -from "+4917902$(printf %02d "$r")" -dir "$WORK/bare-in-$r.media" -n "$IN_N" -size $((IN_KB * 1000)))
	echo "$res" >&2
	record in_bare "$r" "$res"
}
for ((r = 1; r <= RUNS; r++)); do
	if ((r % 2)); then mg_in "$r"; bare_in "$r"; else bare_in "$r"; mg_in "$r"; fi
done
}

# ---------------------------------------------------------------- 3
section 3 && {
log "3. bytes written to SQLite per sent image vs per sent text ($IO_N each, receipts included)"
# pwrite64/write/fsync of every thread; the first 24 bytes of each write
# (a WAL frame header: commit marker). (exec: $! must be strace itself.)
trace() { exec strace -f -ttt -xx -s 24 -e trace=pwrite64,write,fsync,fdatasync -e signal=none -p "$1" -o "$2" 2>>"$LOGS/strace.log"; }
io_bytes() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/io"; }
for ((r = 1; r <= RUNS; r++)); do
	me=$(phone 49150 3 "$r")
	start_mg "io-$r"
	"$BIN/mgload" create -url "$MG_URL" -name io -phone "$me" >/dev/null
	# A warm-up of each kind: the Signal session and the first media
	# directory exist before the measured runs.
	run_tool mdload io -url "$MG_URL" -name io -to "$(phone 49171 3 "$r")" -kind image -n 5 -size $((IO_KB * 1000)) -settle 1s >/dev/null
	for kind in text image; do
		trace "$MG_PID" "$WORK/io-$r-$kind.trace" &
		SPID=$!
		PIDS+=("$SPID")
		sleep 1
		w0=$(io_bytes "$MG_PID" write_bytes) m0=$(du -sb "$MG_MEDIA" | cut -f1)
		res=$(run_tool mdload io -url "$MG_URL" -name io -to "$(phone 49171 3 "$r")" -kind "$kind" -n "$IO_N" -size $((IO_KB * 1000)) -mark "$WORK/io.mark")
		w1=$(io_bytes "$MG_PID" write_bytes) m1=$(du -sb "$MG_MEDIA" | cut -f1)
		kill -INT "$SPID" 2>/dev/null || true
		wait "$SPID" 2>/dev/null || true
		for f in /proc/"$MG_PID"/fd/*; do echo "$(basename "$f") $(readlink "$f")"; done >"$WORK/io.fds"
		sum=$("$BIN/mgload" strace -trace "$WORK/io-$r-$kind.trace" -fds "$WORK/io.fds" -from "$WORK/io.mark" -n "$IO_N")
		res=$(jq -c --argjson s "$sum" --argjson w $((w1 - w0)) --argjson m $((m1 - m0)) --argjson n "$IO_N" \
			'. + {sqlite_bytes_per_msg: $s.file_bytes_per_msg, wal_bytes_per_msg: $s.wal_bytes_per_msg, commits_per_msg: $s.commits_per_msg,
			other_bytes_per_msg: $s.other_bytes_per_msg, proc_write_bytes_per_msg: ($w / $n), media_dir_growth_per_msg: ($m / $n)}' <<<"$res")
		echo "$res" >&2
		record "io_$kind" "$r" "$res"
	done
	stop "$MG_PID"
done
}

# ---------------------------------------------------------------- summary
log "summary"
"$HERE/summary.sh" "$RESULTS" | tee "$OUT/summary.md"
echo >&2
echo "results: $RESULTS, $OUT/summary.md" >&2
