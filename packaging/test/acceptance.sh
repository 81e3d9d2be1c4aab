#!/usr/bin/env bash
# Acceptance test of the meowgate .deb packages under a real systemd.
#
#   sudo packaging/test/acceptance.sh          (run by .ci/run)
#
# Builds the packages (packaging/build.sh), runs lintian on them, boots a
# minimal Debian bookworm (debootstrap, cached in /var/cache/meowgate-ci)
# with systemd as PID 1 in its own PID, mount, UTS, IPC, network and cgroup
# namespaces, pivoted (a chroot that also allows user namespaces) into
# that root, and there installs, exercises,
# upgrades, removes and purges the amd64 package, following the README's
# install steps. Then runs the arm64 and armhf binaries under qemu-user.
#
# systemd is only ever booted inside that root: booted on the host root,
# its tmpfiles service would empty the host's /tmp. Every mount lives in
# the test's own mount namespace; every process, the cgroup and the work
# directory are removed on exit (KEEP=1 keeps the work directory).
#
# Environment: UPDATE_BENCHMARKS=1 writes the measured figures into the
# "## Packaging" section of docs/benchmarks.md.
set -euo pipefail

cd "$(dirname "$0")/../.."
REPO=$PWD
export PATH="$PATH:/usr/local/go/bin:/usr/local/sbin:/usr/sbin:/sbin"
T0=$(date +%s)
V1=0.9.0
V2=0.9.1
SUITE=bookworm
INCLUDE=systemd,systemd-sysv,dbus,curl,adduser,ca-certificates,sudo
CACHE=/var/cache/meowgate-ci
PHONE=+4915112345678

log() { printf '== [%4ss] %s\n' "$(($(date +%s) - T0))" "$*"; }

[ "$(id -u)" = 0 ] || { echo "acceptance.sh: must run as root" >&2; exit 1; }

WORK=$(mktemp -d /var/tmp/meowgate-acceptance.XXXXXX)
ROOT=$WORK/root
SD_PID='' BOOT_PID='' CG=''
BG_PIDS=()

# diagnostics prints what helps understand a failure while the system runs.
diagnostics() {
	[ -n "$SD_PID" ] && kill -0 "$SD_PID" 2>/dev/null || return 0
	echo "---- systemctl status meowgate"
	run systemctl status --no-pager -l meowgate 2>&1 | tail -n 30 || true
	echo "---- journalctl -u meowgate (last 60 lines)"
	run journalctl --no-pager -u meowgate -n 60 2>&1 || true
	echo "---- failed units"
	run systemctl --failed --no-pager 2>&1 || true
}

fail() {
	echo "FAIL: $*" >&2
	diagnostics >&2
	exit 1
}

cleanup() {
	local rc=$?
	set +e
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	# Killing PID 1 of the namespace kills every process in it; its mounts
	# go away with its mount namespace.
	if [ -n "$SD_PID" ]; then kill -KILL "$SD_PID" 2>/dev/null; fi
	if [ -n "$BOOT_PID" ]; then wait "$BOOT_PID" 2>/dev/null; fi
	for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	if [ -n "$CG" ] && [ -d "$CG" ]; then
		for _ in $(seq 50); do
			[ -z "$(find "$CG" -name cgroup.procs -exec cat {} + 2>/dev/null)" ] && break
			sleep 0.2
		done
		find "$CG" -depth -type d -exec rmdir {} \; 2>/dev/null
		[ -d "$CG" ] && echo "acceptance.sh: could not remove cgroup $CG" >&2
	fi
	if findmnt -rn -o TARGET | grep "^$WORK" >/dev/null; then
		echo "acceptance.sh: mounts left under $WORK; not deleting it" >&2
	elif [ "${KEEP:-0}" = 1 ]; then
		echo "acceptance.sh: kept $WORK" >&2
	else
		rm -rf --one-file-system "$WORK"
	fi
	[ "$rc" = 0 ] || log "failed (exit $rc)"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run runs a command inside the booted system: in all its namespaces and
# its root directory.
run() {
	timeout --kill-after=5 "${RUN_TIMEOUT:-120}" \
		nsenter -t "$SD_PID" -a -r -w /usr/bin/env -i \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 TERM=dumb "$@"
}

# wait_for TIMEOUT DESCRIPTION COMMAND...: retries COMMAND every 0.2s.
wait_for() {
	local deadline=$(($(date +%s) + $1)) what=$2
	shift 2
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$deadline" ] || fail "timed out waiting for: $what"
		sleep 0.2
	done
}

# journal_has PATTERN [journalctl args]: the whole output is read (a
# "| grep -q" would fail the pipe under pipefail).
journal_has() {
	local j p=$1
	shift
	j=$(run journalctl -u meowgate --no-pager "$@") && grep -q -- "$p" <<<"$j"
}

ms() { echo $(($(date +%s%N) / 1000000)); }

# ---------------------------------------------------------------- tools
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v qemu-aarch64-static >/dev/null && command -v qemu-arm-static >/dev/null || need+=(qemu-user-static)
command -v lintian >/dev/null || need+=(lintian)
command -v curl >/dev/null || need+=(curl)
command -v pgrep >/dev/null || need+=(procps)
command -v nsenter >/dev/null && command -v unshare >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	timeout 600 apt-get update -qq
	DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# -------------------------------------------------------------- packages
log "building packages $V1 (amd64 arm64 armhf) and $V2 (amd64)"
DIST=$WORK/dist packaging/build.sh "$V1"
ARCHES=amd64 DIST=$WORK/dist packaging/build.sh "$V2"
DEB1=meowgate_${V1}_amd64.deb
DEB2=meowgate_${V2}_amd64.deb

log "lintian"
lintian --fail-on error,warning "$WORK"/dist/meowgate_"$V1"_*.deb >"$WORK/lintian.log" 2>&1 ||
	{ cat "$WORK/lintian.log"; fail "lintian"; }
grep -v '^running with root privileges' "$WORK/lintian.log" || true

# -------------------------------------------------------------- root fs
# The mirror is the one the host's apt uses (debootstrap's default if none).
mirror() {
	{
		grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | cut -d: -f2-
		grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) {print $i; break}}'
	} | tr ' ' '\n' | grep -E '^[a-z]+://.*/debian/?$' | head -n1
}
mkdir -p "$CACHE"
tarball=$CACHE/$SUITE-minbase-$(echo "$INCLUDE" | sha256sum | cut -c1-12).tar
rootfs_cached=yes
if [ ! -s "$tarball" ]; then
	rootfs_cached="no: debootstrap ran"
	log "debootstrap $SUITE (cached afterwards in $tarball)"
	# shellcheck disable=SC2046
	timeout 900 debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$WORK/bootstrap" $(mirror) \
		>"$WORK/debootstrap.log" 2>&1 || { tail -n 30 "$WORK/debootstrap.log"; fail "debootstrap"; }
	tar -C "$WORK/bootstrap" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
	rm -rf --one-file-system "$WORK/bootstrap"
fi
log "unpacking the root file system"
mkdir "$ROOT"
tar -C "$ROOT" -xf "$tarball"

echo meowgate-test >"$ROOT/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 meowgate-test\n::1 localhost\n' >"$ROOT/etc/hosts"
# No login prompts (they would sit on the console), no timers that take the
# dpkg lock or reach for the network.
for unit in console-getty.service getty@.service serial-getty@.service apt-daily.timer \
	apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer; do
	ln -sf /dev/null "$ROOT/etc/systemd/system/$unit"
done

# --------------------------------------------------------------- boot
# A cgroup of its own, which becomes the root of the container's cgroup
# namespace: systemd manages that subtree and nothing of the host's.
cgbase=
for d in /sys/fs/cgroup /sys/fs/cgroup/unified; do
	if [ "$(stat -fc %T "$d" 2>/dev/null)" = cgroup2fs ]; then cgbase=$d; break; fi
done
[ -n "$cgbase" ] || fail "no cgroup2 file system on this host"
CG=$cgbase/meowgate-acceptance-$$
mkdir "$CG"

cat >"$WORK/boot.sh" <<'EOF'
set -e
R=$1
# The root must be a mount point for systemd to set up the services'
# namespaces (ProtectSystem= and friends).
mount --bind "$R" "$R"
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$R/sys/fs/cgroup"
mount -t tmpfs -o mode=0755,nosuid tmpfs "$R/dev"
for n in null zero full random urandom tty; do
	touch "$R/dev/$n"
	mount --bind "/dev/$n" "$R/dev/$n"
done
mkdir "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/dev/shm"
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"
ln -s /proc/self/fd/2 "$R/dev/stderr"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$R/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/tmp"
hostname meowgate-test
# Into the root for good: pivot_root, then drop the host's file systems.
# A plain chroot would do for systemd, but not for the services: the kernel
# refuses user namespaces (PrivateUsers=) to a chrooted process.
cd "$R"
mkdir -p .host
pivot_root . .host
umount -l /.host
rmdir /.host
exec chroot / /usr/bin/env -i container=meowgate-acceptance \
	PATH=/usr/sbin:/usr/bin:/sbin:/bin /lib/systemd/systemd --system --show-status=no
EOF

log "booting systemd in $ROOT"
(
	echo "$BASHPID" >"$CG/cgroup.procs"
	exec unshare --fork --pid --mount --uts --ipc --net --cgroup --propagation private \
		sh "$WORK/boot.sh" "$ROOT"
) </dev/null >"$WORK/systemd.log" 2>&1 &
BOOT_PID=$!
deadline=$(($(date +%s) + 20))
until SD_PID=$(pgrep -P "$BOOT_PID" | head -n1) && [ -n "$SD_PID" ] &&
	case $(readlink "/proc/$SD_PID/exe" 2>/dev/null) in */lib/systemd/systemd) true ;; *) false ;; esac; do
	SD_PID=
	kill -0 "$BOOT_PID" 2>/dev/null || { cat "$WORK/systemd.log"; fail "the container exited"; }
	[ "$(date +%s)" -lt "$deadline" ] || { cat "$WORK/systemd.log"; fail "systemd did not start"; }
	sleep 0.1
done
wait_for 60 "systemd's private socket" test -S "/proc/$SD_PID/root/run/systemd/private"
state=$(RUN_TIMEOUT=120 run systemctl is-system-running --wait 2>&1) || true
log "system is $state (PID 1 = host PID $SD_PID)"
case $state in
running) ;;
degraded) run systemctl --failed --no-pager || true ;;
*) cat "$WORK/systemd.log"; fail "system did not boot: $state" ;;
esac
run curl --version >/dev/null || fail "no curl inside"

# -------------------------------------------------------------- install
cp "$WORK/dist/$DEB1" "$WORK/dist/$DEB2" "$ROOT/root/"
log "README: sudo apt install ./$DEB1"
run sh -c "cd /root && DEBIAN_FRONTEND=noninteractive sudo apt install -y ./$DEB1" >"$WORK/install.log" 2>&1 ||
	{ cat "$WORK/install.log"; fail "apt install"; }
for want in "sudo cat /var/lib/meowgate/admin.key" "sudo -u meowgate meowgate qr NAME" "meowgate is running"; do
	grep -qF -- "$want" "$WORK/install.log" || { cat "$WORK/install.log"; fail "postinst message lacks: $want"; }
done
sed -n '/meowgate is running/,/Documentation/p' "$WORK/install.log"

[ "$(run systemctl is-active meowgate)" = active ] || fail "not active after install"
[ "$(run systemctl is-enabled meowgate)" = enabled ] || fail "not enabled after install"
[ "$(run systemctl show -p Type --value meowgate)" = notify ] || fail "not Type=notify"
journal_has 'msg="meowgate ready"' || fail "no ready line in the journal"
status=$(run systemctl status --no-pager meowgate)
echo "$status" | grep -E 'Status: "0/0 instances connected, 0 queued, 0 webhooks failing"' || { echo "$status"; fail "systemctl status shows no STATUS line"; }
run curl -fsS --max-time 5 http://127.0.0.1:8080/healthz >/dev/null || fail "/healthz does not answer"

getent_user=$(run getent passwd meowgate) || fail "no user meowgate"
case $getent_user in *:/var/lib/meowgate:/usr/sbin/nologin) ;; *) fail "user meowgate: $getent_user" ;; esac
check_stat() { # PATH WANT
	local got
	got=$(run stat -c '%U:%G %a' "$1")
	[ "$got" = "$2" ] || fail "$1 is $got, want $2"
}
check_stat /etc/meowgate/config.toml "root:meowgate 640"
check_stat /var/lib/meowgate "meowgate:meowgate 700"
check_stat /var/lib/meowgate/admin.key "meowgate:meowgate 600"
check_stat /var/lib/meowgate/meowgate.db "meowgate:meowgate 600"

run sudo meowgate check-config >/dev/null || fail "sudo meowgate check-config"
run systemd-analyze verify /lib/systemd/system/meowgate.service || fail "systemd-analyze verify"
security=$(run systemd-analyze security --no-pager meowgate 2>&1 | grep 'Overall exposure level') ||
	fail "systemd-analyze security"
exposure=$(echo "$security" | sed -E 's/.*: ([0-9.]+ [A-Z]+).*/\1/')
log "systemd-analyze security: $exposure"

KEY=$(run sudo cat /var/lib/meowgate/admin.key)
[ -n "$KEY" ] || fail "empty admin key"
api() { # METHOD PATH [BODY]
	run curl -sS --max-time 10 -X "$1" -H "Authorization: Bearer $KEY" ${3:+-d "$3"} "http://127.0.0.1:8080$2"
}
state_of() { api GET "/v1/instances/$1/state" | sed -nE 's/.*"state":"([a-z_]+)".*/\1/p'; }
is_state() { [ "$(state_of "$1")" = "$2" ]; }
main_pid() { run systemctl show -p MainPID --value meowgate; }
is_running_other_than() { # OLD_PID
	local pid
	pid=$(main_pid)
	[ "$pid" != 0 ] && [ "$pid" != "$1" ] && [ "$(run systemctl is-active meowgate)" = active ]
}

# start -> READY: for Type=notify, systemctl start returns once READY=1 came.
time_starts() { # LABEL
	local t out=()
	for _ in 1 2 3 4 5; do
		run systemctl stop meowgate
		run systemctl reset-failed meowgate # the start rate limit, 5 in 10s
		t=$(run sh -c 's=$(date +%s%N); systemctl start meowgate; e=$(date +%s%N); echo $(((e - s) / 1000000))')
		out+=("$t")
	done
	printf '%s\n' "${out[@]}" | sort -n | sed -n 3p
}
# startup_ms: the median of meowgate's own startup (process start to ready,
# as it logs it) over the last 5 starts.
startup_ms() {
	local j
	j=$(run journalctl -u meowgate --no-pager -o cat)
	sed -nE 's/.*msg="meowgate ready".* startup=([0-9.]+)(ms|s)$/\1 \2/p' <<<"$j" | tail -n 5 |
		awk '{print ($2 == "s") ? $1 * 1000 : $1}' | sort -n | sed -n 3p
}
ready_empty=$(time_starts)
self_empty=$(startup_ms)
log "start -> READY (no instances): median ${ready_empty} ms of 5 (meowgate's own part ${self_empty} ms)"

# ------------------------------------------------- sandbox, link, queue
# The packaged service talks to WhatsApp; the test switches it to the
# built-in simulator and a short watchdog with a drop-in.
run mkdir -p /etc/systemd/system/meowgate.service.d
cat >"$ROOT/etc/systemd/system/meowgate.service.d/acceptance.conf" <<'EOF'
[Service]
Environment=MEOWGATE_SANDBOX_ENABLED=true
WatchdogSec=6s
EOF
run systemctl daemon-reload
run systemctl restart meowgate
journal_has "SANDBOX MODE" || fail "the drop-in did not enable the sandbox"

log "README: link a number with meowgate instances create / meowgate qr"
run sudo -u meowgate meowgate instances create pi >/dev/null || fail "meowgate instances create as user meowgate"
# The README's command, in the background, until the simulated phone scans
# the code.
(run sudo -u meowgate meowgate qr pi >"$WORK/qr.out" 2>&1; echo $? >"$WORK/qr.rc") &
BG_PIDS+=($!)
wait_for 30 "instance pi waits for a scan" is_state pi scan_qr
wait_for 30 "the QR code in the terminal" grep -q 'Scan with WhatsApp' "$WORK/qr.out"
api POST /v1/sandbox/instances/pi/scan "{\"phone\":\"$PHONE\"}" >/dev/null
wait_for 30 "meowgate qr to exit" test -s "$WORK/qr.rc"
[ "$(cat "$WORK/qr.rc")" = 0 ] || { cat "$WORK/qr.out"; fail "meowgate qr exited $(cat "$WORK/qr.rc")"; }
grep -q "linked as $PHONE" "$WORK/qr.out" || { tail -n 3 "$WORK/qr.out"; fail "meowgate qr did not report the link"; }
wait_for 30 "pi connected" is_state pi connected
qr_again=$(run meowgate qr pi) || fail "meowgate qr as root"
[[ $qr_again == *"pi is connected"* ]] || fail "meowgate qr as root: $qr_again"

# A message due in an hour stays queued through everything below.
send_at=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
api POST /v1/instances/pi/messages "{\"to\":\"+4915187654321\",\"text\":\"later\",\"send_at\":\"$send_at\"}" >/dev/null
queued() { api GET /v1/instances/pi/queue | grep -o '"later"' | wc -l; }
[ "$(queued)" = 1 ] || fail "the message is not queued"
status_is() { [ "$(run systemctl show -p StatusText --value meowgate)" = "$1" ]; }
wait_for 15 "STATUS 1/1 instances connected, 1 queued, 0 webhooks failing" status_is "1/1 instances connected, 1 queued, 0 webhooks failing"
run systemctl status --no-pager meowgate | grep 'Status:'
ready_one=$(time_starts)
self_one=$(startup_ms)
log "start -> READY (one linked instance, sandbox): median ${ready_one} ms of 5 (meowgate's own part ${self_one} ms)"
wait_for 30 "pi connected after restarts" is_state pi connected

# ------------------------------------------------------------ kill -9
pid=$(main_pid)
# LimitNOFILE=65536, or as close as systemd could get (it cannot raise its
# own hard limit where CAP_SYS_RESOURCE is withheld, as in some sandboxes).
nofile() { run cat "/proc/$1/limits" | awk '/^Max open files/ {print $4, $5}'; }
read -r _ pid1_hard <<<"$(nofile 1)"
want=$((pid1_hard < 65536 ? pid1_hard : 65536))
[ "$(nofile "$pid")" = "$want $want" ] || fail "open files limit is $(nofile "$pid"), want $want $want"
restarts=$(run systemctl show -p NRestarts --value meowgate)
log "kill -9 $pid"
run sh -c "kill -9 $pid" # the shell's kill: minbase has no procps
wait_for 30 "a restart after kill -9" is_running_other_than "$pid"
[ "$(run systemctl show -p NRestarts --value meowgate)" -gt "$restarts" ] || fail "NRestarts did not grow"
wait_for 60 "pi connected again after kill -9 (no new QR)" is_state pi connected
[ "$(queued)" = 1 ] || fail "the queued message was lost by kill -9"

# ------------------------------------------------------------ watchdog
pid=$(main_pid)
log "SIGSTOP $pid (WatchdogSec=6s)"
t=$(date +%s)
run sh -c "kill -STOP $pid"
wait_for 60 "the watchdog to restart the wedged process" is_running_other_than "$pid"
watchdog_s=$(($(date +%s) - t))
journal_has "Watchdog timeout" || fail "no watchdog timeout in the journal"
wait_for 60 "pi connected again after the watchdog" is_state pi connected
log "watchdog killed and restarted it after ${watchdog_s}s"

# ------------------------------------------------------ reload (SIGHUP)
# This edit of the conffile must also survive the upgrade below.
run sed -i 's/^# level = "info"$/level = "debug"/' /etc/meowgate/config.toml
run grep -q '^level = "debug"$' /etc/meowgate/config.toml || fail "could not edit the config"
pid=$(main_pid)
run systemctl reload meowgate
reloaded() { journal_has 'msg="configuration reloaded" applied="log.level=debug"'; }
wait_for 10 "the reload to apply log.level" reloaded
[ "$(main_pid)" = "$pid" ] || fail "reload restarted the process"

# ------------------------------------------------------- graceful stop
log "systemctl stop"
t=$(ms)
run systemctl stop meowgate
stop_ms=$(($(ms) - t))
[ "$(run systemctl show -p Result --value meowgate)" = success ] || fail "stop: Result is not success"
[ "$(run systemctl show -p ExecMainStatus --value meowgate)" = 0 ] || fail "stop: exit status is not 0"
journal_has 'msg=stopped' -n 10 || fail "no \"stopped\" in the journal"
run systemctl start meowgate
wait_for 60 "pi connected after stop and start" is_state pi connected
[ "$(queued)" = 1 ] || fail "the queued message was lost by a stop"

# ------------------------------------------------------------- upgrade
pid=$(main_pid)
log "README: upgrade to $V2 (sudo dpkg -i ./$DEB2)"
run sh -c "cd /root && sudo dpkg -i ./$DEB2" </dev/null >"$WORK/upgrade.log" 2>&1 || { cat "$WORK/upgrade.log"; fail "upgrade"; }
[ "$(run meowgate version)" = "meowgate $V2" ] || fail "version after upgrade: $(run meowgate version)"
run grep -q '^level = "debug"$' /etc/meowgate/config.toml || fail "the config edit did not survive the upgrade"
run test ! -e /etc/meowgate/config.toml.dpkg-dist || fail "dpkg put a config.toml.dpkg-dist aside"
check_stat /etc/meowgate/config.toml "root:meowgate 640"
wait_for 30 "the upgraded service running" is_running_other_than "$pid"
wait_for 60 "pi connected after the upgrade" is_state pi connected
[ "$(queued)" = 1 ] || fail "the queued message was lost by the upgrade"
grep -q "meowgate is running" "$WORK/upgrade.log" && fail "the first-install message was shown on upgrade"

# -------------------------------------------------- remove and purge
log "README: sudo apt remove meowgate"
run sh -c "DEBIAN_FRONTEND=noninteractive sudo apt remove -y meowgate" >"$WORK/remove.log" 2>&1 || { cat "$WORK/remove.log"; fail "apt remove"; }
run systemctl is-active meowgate >/dev/null && fail "still active after remove"
run test ! -e /usr/bin/meowgate || fail "/usr/bin/meowgate left after remove"
run test -s /var/lib/meowgate/admin.key || fail "remove deleted the state"
run test -s /etc/meowgate/config.toml || fail "remove deleted the config"
run getent passwd meowgate >/dev/null || fail "remove deleted the user"
log "README: sudo dpkg --purge meowgate"
run dpkg --purge meowgate >"$WORK/purge.log" 2>&1 || { cat "$WORK/purge.log"; fail "dpkg --purge"; }
run getent passwd meowgate >/dev/null && fail "purge left the user"
run getent group meowgate >/dev/null && fail "purge left the group"
run test ! -e /var/lib/meowgate || fail "purge left /var/lib/meowgate"
run test ! -e /etc/meowgate || fail "purge left /etc/meowgate"
run test ! -e /etc/systemd/system/multi-user.target.wants/meowgate.service || fail "purge left the unit enabled"

log "stopping the container"
kill -KILL "$SD_PID"
wait "$BOOT_PID" 2>/dev/null || true
SD_PID='' BOOT_PID=''

# ----------------------------------------------------------------- ARM
arm_check() { # ARCH QEMU
	local dir=$WORK/$1 qemu out pid addr deadline
	qemu=$(command -v "$2") || fail "no $2"
	mkdir -p "$dir/run"
	dpkg-deb -x "$WORK/dist/meowgate_${V1}_$1.deb" "$dir"
	out=$(env -i "$qemu" "$dir/usr/bin/meowgate" version) || fail "$1: meowgate version"
	[ "$out" = "meowgate $V1" ] || fail "$1: version says $out"
	(cd "$dir/run" && exec env -i "$qemu" "$dir/usr/bin/meowgate" serve --sandbox --config "" --listen 127.0.0.1:0 >"$dir/serve.log" 2>&1) &
	pid=$!
	BG_PIDS+=("$pid")
	deadline=$(($(date +%s) + 120))
	until addr=$(sed -nE 's/.*msg="meowgate ready".* listen=([0-9.:]+) .*/\1/p' "$dir/serve.log") && [ -n "$addr" ]; do
		kill -0 "$pid" 2>/dev/null || { cat "$dir/serve.log"; fail "$1: serve exited"; }
		[ "$(date +%s)" -lt "$deadline" ] || { cat "$dir/serve.log"; fail "$1: serve not ready in 120s"; }
		sleep 0.2
	done
	curl -fsS --max-time 10 "http://$addr/healthz" >/dev/null || fail "$1: /healthz"
	kill -TERM "$pid"
	wait "$pid" || fail "$1: serve exited non-zero on SIGTERM"
	log "$1 under $2: meowgate version and /healthz OK"
}
arm_check arm64 qemu-aarch64-static
arm_check armhf qemu-arm-static

# ------------------------------------------------------------- figures
# shellcheck disable=SC2016 # ${Version} is dpkg-query's, not the shell's
sdver=$(chroot "$ROOT" dpkg-query -W -f '${Version}' systemd 2>/dev/null || echo '?')
size() { du -k "$WORK/dist/meowgate_${V1}_$1.deb" | cut -f1; }
isize() { dpkg-deb -f "$WORK/dist/meowgate_${V1}_$1.deb" Installed-Size; }
duration=$(($(date +%s) - T0))
cat >"$WORK/figures.md" <<EOF
## Packaging

Measured by \`packaging/test/acceptance.sh\` on $(date -u +%Y-%m-%d) ($(nproc) cores,
$(uname -m), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end); meowgate $V1,
Debian $SUITE, systemd $sdver. The timings grow with the machine's load.

| package | .deb size | installed size |
|---|---|---|
| meowgate_${V1}_amd64.deb | $(size amd64) KiB | $(isize amd64) KiB |
| meowgate_${V1}_arm64.deb | $(size arm64) KiB | $(isize arm64) KiB |
| meowgate_${V1}_armhf.deb | $(size armhf) KiB | $(isize armhf) KiB |

| measurement | value |
|---|---|
| \`systemctl start\` → READY, no instances (median of 5) | ${ready_empty} ms |
| … of which meowgate's own startup (its \`startup=\` log field) | ${self_empty} ms |
| \`systemctl start\` → READY, one linked instance, sandbox (median of 5) | ${ready_one} ms |
| … of which meowgate's own startup | ${self_one} ms |
| \`systemctl stop\` (graceful, one connected instance) | ${stop_ms} ms |
| SIGSTOP → watchdog restart (WatchdogSec=6s) | ${watchdog_s} s |
| \`systemd-analyze security meowgate\` | ${exposure} |
| whole acceptance test (root file system cached: ${rootfs_cached}) | ${duration} s |
EOF
cat "$WORK/figures.md"

if [ "${UPDATE_BENCHMARKS:-0}" = 1 ]; then
	f=$REPO/docs/benchmarks.md
	mkdir -p "$(dirname "$f")"
	[ -f "$f" ] || printf '# Benchmarks\n' >"$f"
	# Replace the "## Packaging" section (up to the next "## "), or append it.
	awk -v new="$WORK/figures.md" '
		/^## / { if (skip) skip = 0; if ($0 == "## Packaging") { skip = 1; while ((getline l < new) > 0) print l; print ""; done = 1; next } }
		!skip { print }
		END { if (!done) { print ""; while ((getline l < new) > 0) print l } }
	' "$f" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' >"$f.tmp" && mv "$f.tmp" "$f" # no blank lines at the end
	log "updated $f"
fi

echo "acceptance: 1 passed, 0 failed"
