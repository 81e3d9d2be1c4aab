# bench/lib.sh: helpers shared by bench/run.sh and bench/messaging/run.sh
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
