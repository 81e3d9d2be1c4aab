#!/usr/bin/env bash
# bench/dbcheck.sh — what the start-up database check (PRAGMA quick_check)
# costs (docs/benchmarks.md, "Start-up database check"). Builds meowgate and
# the bench programs, fills a fresh database through the API with INSTANCES
# instances (not linked) and MESSAGES queued texts spread over them
# (bench/populate), stops meowgate, and runs bench/dbcheck on the file:
# medians of ROUNDS alternating rounds of a plain read of the file, quick_check,
# store.Open (which runs it) and integrity_check, cold and warm.
#
# Knobs: INSTANCES=100, MESSAGES=100000, ROUNDS=5, KEEP=1 (keep the temp dir).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
INSTANCES=${INSTANCES:-100}
MESSAGES=${MESSAGES:-100000}
ROUNDS=${ROUNDS:-5}
. "$ROOT/bench/lib.sh"

WORK=$(mktemp -d /tmp/meowgate-dbcheck.XXXXXX)
MG_PID=
cleanup() {
	[[ -n $MG_PID ]] && stop "$MG_PID"
	if [[ ${KEEP:-0} == 1 ]]; then echo "dbcheck: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

(cd "$ROOT" && CGO_ENABLED=0 go build -o "$WORK/meowgate" . &&
	go build -o "$WORK/populate" ./bench/populate && go build -o "$WORK/dbcheck" ./bench/dbcheck)

export MEOWGATE_API_ADMIN_KEY=bench-admin-key-7c1f0e2a9b3d4c5e6f708192a3b4c5d6
export MEOWGATE_LOG_LEVEL=warn MEOWGATE_API_RATE_LIMIT=100000000 MEOWGATE_API_RATE_BURST=100000000
export MEOWGATE_API_CREATE_PER_MINUTE=100000000
unset MEOWGATE_CONFIG MEOWGATE_STORE_PATH MEOWGATE_SERVER_LISTEN STATE_DIRECTORY
DB=$WORK/meowgate.db
port=$(freeport)
"$WORK/meowgate" serve --listen "127.0.0.1:$port" --store "$DB" >"$WORK/meowgate.log" 2>&1 &
MG_PID=$!
echo "\$ populate -ready -n $INSTANCES -messages $MESSAGES" >&2
"$WORK/populate" -url "http://127.0.0.1:$port" -ready -n "$INSTANCES" -messages "$MESSAGES" -expect "$INSTANCES" -timeout 20m >&2
stop "$MG_PID"
MG_PID=
echo "\$ dbcheck -db $DB -rounds $ROUNDS  # $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$WORK/dbcheck" -db "$DB" -rounds "$ROUNDS"
