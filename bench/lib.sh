# bench/lib.sh: helpers shared by the bench/*/run.sh scripts
# (sourced, not run).

# freeport prints a loopback port nothing listens on.
freeport() {
	local p
	while :; do
		# below the ephemeral range (32768+), where a client socket of
		# ours could hold the port without a listener to find
		p=$((10000 + RANDOM % 22000))
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

# stop PID: SIGTERM, wait up to 30 s, then SIGKILL.
stop() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "bench: pid $pid did not stop after SIGTERM; killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# bench_setup NAME: a temporary work directory $WORK (NAME.XXXXXX under
# /tmp) with $BIN and $LOGS, $OUT created and $RESULTS emptied; on exit the
# processes listed in PIDS are stopped, the last log lines are shown after
# a failure, and $WORK is removed (KEEP=1 keeps it).
bench_setup() {
	WORK=$(mktemp -d "/tmp/$1.XXXXXX")
	BIN=$WORK/bin
	LOGS=$WORK/logs
	mkdir -p "$BIN" "$LOGS" "$OUT"
	RESULTS=$OUT/results.jsonl
	: >"$RESULTS"

	PIDS=()
	cleanup() {
		local rc=$?
		set +e
		for pid in "${PIDS[@]}"; do
			kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
		done
		for pid in "${PIDS[@]}"; do
			wait "$pid" 2>/dev/null
		done
		if [[ $rc -ne 0 ]]; then
			echo "bench: failed (exit $rc); last log lines:" >&2
			for f in "$LOGS"/*; do
				[[ -s $f ]] || continue
				echo "--- $f" >&2
				tail -n 5 "$f" >&2
			done
		fi
		if [[ ${KEEP:-0} == 1 ]]; then
			echo "bench: kept $WORK" >&2
		else
			rm -rf "$WORK"
		fi
		exit $rc
	}
	trap cleanup EXIT
	trap 'exit 130' INT TERM
}

log() { printf '\n== %s\n' "$*" >&2; }
# record KEY RUN JSON
record() { printf '{"key":"%s","run":%s,"data":%s}\n' "$1" "$2" "$3" >>"$RESULTS"; }
