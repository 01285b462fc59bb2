# shellcheck shell=bash
# Shared helpers for the kernel scenarios. Sourced by tests/kernel/scenarios/NN-name.sh,
# which guest.sh runs one at a time inside the VM (as root, private /tmp).
#
# Environment (set by guest.sh):
#   KT_DIR      tests/kernel directory
#   KT_BIN      the ldirectord-rs binary
#   KT_RESULTS  directory shared with the host (results, logs, artefacts)
#   KT_MODE     "director" (default: ldirectord-rs programs IPVS) or "topology"
#               (the scenario programs IPVS itself with ipvsadm: validates the test topology)
#   KT_DIRECTOR_OK  1 when "$KT_BIN run --help" works (guest.sh probes it once)
#
# Every scenario: own namespaces (kt-*), own addresses 10.99.x.y / fd00:99:x::y that exist only
# inside those namespaces; everything it starts is killed by PID on exit (trap).
# Exit codes: 0 pass, 77 skip, anything else fail. The reason goes to $KT_RESULTS/NAME.result.

[ "${KT_TRACE:-0}" = 1 ] && PS4='+ ${EPOCHREALTIME} '
set -u
set -o pipefail

SCEN=${SCEN:-$(basename "${0%.sh}")}
KT_DIR=${KT_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
KT_BIN=${KT_BIN:-$KT_DIR/../../target/release/ldirectord-rs}
KT_RESULTS=${KT_RESULTS:-/tmp/kt-results}
KT_MODE=${KT_MODE:-director}
WORK=/tmp/kt/$SCEN
ART=$KT_RESULTS/$SCEN
RESULT=$KT_RESULTS/$SCEN.result
PIDS=()
DIRECTOR_PID=
CFG=$WORK/ldirectord.cf
LOG=$WORK/ldirectord.log

# Namespaces every topology uses
NS_C=kt-c
NS_DIR=kt-dir

rm -rf "$WORK" "$ART" "$RESULT"
mkdir -p "$WORK" "$ART"

# ---------------------------------------------------------------- logging / results

note() { printf '%(%H:%M:%S)T.%s [%s] %s\n' -1 "${EPOCHREALTIME#*.}" "$SCEN" "$*" >&2; }

# fail MESSAGE: record the failure reason and exit 1 (the trap cleans up)
fail() {
	note "FAIL: $*"
	printf 'FAIL %s: %s\n' "$SCEN" "$*" >"$RESULT"
	exit 1
}

# skip MESSAGE: record why the scenario could not run and exit 77 (not a pass)
skip() {
	note "SKIP: $*"
	printf 'SKIP %s: %s\n' "$SCEN" "$*" >"$RESULT"
	exit 77
}

# pass: the scenario passed; a director it started (and did not stop) must still be running
pass() {
	[ -n "$DIRECTOR_PID" ] && director_alive
	note "PASS"
	printf 'PASS %s\n' "$SCEN" >"$RESULT"
	exit 0
}

_on_exit() {
	local rc=$?
	set +e
	trap - EXIT
	if [ ! -s "$RESULT" ]; then
		case $rc in
		0) printf 'PASS %s\n' "$SCEN" >"$RESULT" ;;
		77) printf 'SKIP %s: (no reason given)\n' "$SCEN" >"$RESULT" ;;
		*) printf 'FAIL %s: exit code %s (see %s.log)\n' "$SCEN" "$rc" "$SCEN" >"$RESULT" ;;
		esac
	fi
	# artefacts for the host: config, director output and log, a last table dump
	[ -f "$CFG" ] && cp "$CFG" "$ART/" 2>/dev/null
	[ -f "$LOG" ] && cp "$LOG" "$ART/" 2>/dev/null
	[ -f "$WORK/director.out" ] && cp "$WORK/director.out" "$ART/" 2>/dev/null
	if [ -e "/run/netns/$NS_DIR" ]; then
		ip netns exec "$NS_DIR" ipvsadm -Ln >"$ART/ipvsadm-final.txt" 2>&1
	fi
	cleanup_all
	exit "$rc"
}
trap _on_exit EXIT
trap 'fail "interrupted (timeout?)"' TERM INT

# ---------------------------------------------------------------- processes

# track PID: remember a PID to kill on exit
track() { PIDS+=("$1"); }

kill_pid() {
	local pid=$1 i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in {1..30}; do
		kill -0 "$pid" 2>/dev/null || return 0
		nap 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	return 0
}

cleanup_all() {
	local pid f n
	for pid in "${PIDS[@]}"; do kill_pid "$pid"; done
	PIDS=()
	for hook in "${EXIT_HOOKS[@]}"; do eval "$hook"; done
	EXIT_HOOKS=()
	# anything still running inside our own namespaces was started by this scenario
	for f in /run/netns/kt-*; do
		[ -e "$f" ] || continue
		n=${f#/run/netns/}
		for pid in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
		echo "netns del $n"
	done | ip -force -batch - 2>/dev/null
}

# on_exit CMD: run CMD (eval) when the scenario ends, before the namespaces go
EXIT_HOOKS=()
on_exit() { EXIT_HOOKS+=("$1"); }

# ns NAME CMD...: run CMD inside netns NAME
ns() {
	local n=$1
	shift
	ip netns exec "$n" "$@"
}

# nap SECONDS: sleep without starting a process (each process costs ~0.3 s under emulation)
exec {_NAPFD}<> <(:)
nap() { read -r -t "$1" -u "$_NAPFD" _ 2>/dev/null || true; }

# wait_until TIMEOUT_S DESCRIPTION CMD...: poll CMD every 0.2 s until it succeeds
wait_until() {
	local timeout=$1 what=$2 deadline
	shift 2
	deadline=$((${EPOCHREALTIME/./} / 1000 + timeout * 1000))
	while :; do
		if "$@" >/dev/null 2>&1; then return 0; fi
		if [ $((${EPOCHREALTIME/./} / 1000)) -ge $deadline ]; then
			note "timed out after ${timeout}s waiting for: $what"
			return 1
		fi
		nap 0.2
	done
}

# ---------------------------------------------------------------- modules

need_modules() {
	local m
	for m in "$@"; do
		[ -d "/sys/module/$m" ] && continue
		modprobe "$m" 2>/dev/null || skip "cannot load kernel module $m"
	done
}

need_ipvs() {
	need_modules ip_vs ip_vs_rr ip_vs_wrr ip_vs_sh ip_vs_wlc bridge veth
}

# ---------------------------------------------------------------- topology
# Every process costs ~0.3 s under software emulation, so the topology is built with a few
# `ip -batch` runs (one per namespace) instead of one `ip` per step.

# ipb NS: run the `ip` commands on stdin inside netns NS ("root": the VM's own namespace)
ipb() {
	local n=$1
	if [ "$n" = root ]; then
		ip -batch - || fail "ip -batch (root namespace) failed"
	else
		ip -n "$n" -batch - || fail "ip -n $n -batch failed"
	fi
}

# sysctls NS KEY=VAL...: set sysctls inside netns NS (one process)
sysctls() {
	local n=$1
	shift
	ip netns exec "$n" sysctl -qw "$@" >/dev/null || fail "sysctl in $n: $*"
}

_netns_add() {
	ip netns add "$1" || fail "ip netns add $1"
	ip -n "$1" link set lo up
}

# Addresses (only inside our namespaces)
VIP=10.99.0.100
VIP6=fd00:99::100
CIP=10.99.0.2
CIP6=fd00:99::2
rip() { echo "10.99.1.$((10 + $1))"; }
rip6() { echo "fd00:99:1::$((10 + $1))"; }
SORRY_IP=10.99.1.99
SORRY_IP6=fd00:99:1::99

# topo_nat N [sorry]: two subnets, the director routes between them (LVS-NAT, seeds 002/004).
#   kt-c    eth0 10.99.0.2/24  fd00:99::2/64       default via the director
#   kt-dir  dc   10.99.0.1/24  fd00:99::1/64  + VIP 10.99.0.100/32, fd00:99::100/128
#           br1  10.99.1.1/24  fd00:99:1::1/64    (a bridge: the reals' side)
#   kt-rsI  eth0 10.99.1.(10+I)/24 fd00:99:1::(10+I)/64   default via the director
#   kt-sorry eth0 10.99.1.99 fd00:99:1::99 (with "sorry"): the fallback server
topo_nat() {
	local n=$1 sorry=${2:-} i reals=() nsn a4 a6 port
	for ((i = 1; i <= n; i++)); do reals+=("kt-rs$i|$(rip "$i")|$(rip6 "$i")|r$i"); done
	[ "$sorry" = sorry ] && reals+=("kt-sorry|$SORRY_IP|$SORRY_IP6|rsorry")
	{
		echo "netns add $NS_DIR"
		echo "netns add $NS_C"
		echo "link add eth0 netns $NS_C type veth peer name dc netns $NS_DIR"
		for i in "${reals[@]}"; do
			IFS='|' read -r nsn a4 a6 port <<<"$i"
			echo "netns add $nsn"
			echo "link add eth0 netns $nsn type veth peer name $port netns $NS_DIR"
		done
	} | ipb root
	{
		cat <<IP
link set lo up
link set dc up
addr add 10.99.0.1/24 dev dc
addr add fd00:99::1/64 dev dc nodad
addr add $VIP/32 dev dc
addr add $VIP6/128 dev dc nodad
link add br1 type bridge forward_delay 0
link set br1 up
addr add 10.99.1.1/24 dev br1
addr add fd00:99:1::1/64 dev br1 nodad
IP
		for i in "${reals[@]}"; do
			IFS='|' read -r nsn a4 a6 port <<<"$i"
			echo "link set $port master br1"
			echo "link set $port up"
		done
	} | ipb "$NS_DIR"
	sysctls "$NS_DIR" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	ipb "$NS_C" <<IP
link set lo up
link set eth0 up
addr add $CIP/24 dev eth0
addr add $CIP6/64 dev eth0 nodad
route add default via 10.99.0.1
route add default via fd00:99::1
IP
	for i in "${reals[@]}"; do
		IFS='|' read -r nsn a4 a6 port <<<"$i"
		ipb "$nsn" <<IP
link set lo up
link set eth0 up
addr add $a4/24 dev eth0
addr add $a6/64 dev eth0 nodad
route add default via 10.99.1.1
route add default via fd00:99:1::1
IP
	done
}

# topo_lan N MODE: one L2 segment (bridge in the director's netns) shared by the client, the
# director and the reals: LVS-DR (MODE=dr: VIP on the reals' lo) and LVS-TUN (MODE=tun: VIP on
# the reals' tunl0), seeds 000/001/003. Replies go from the reals straight to the client.
#   kt-dir br1 10.99.1.1/24 + VIP 10.99.1.100/32; kt-c eth0 10.99.1.2/24; reals 10.99.1.(10+I)
LAN_VIP=10.99.1.100
LAN_CIP=10.99.1.2
topo_lan() {
	local n=$1 mode=$2 i name
	{
		echo "netns add $NS_DIR"
		echo "netns add $NS_C"
		for ((i = 1; i <= n; i++)); do echo "netns add kt-rs$i"; done
		echo "link add eth0 netns $NS_C type veth peer name pc netns $NS_DIR"
		for ((i = 1; i <= n; i++)); do
			echo "link add eth0 netns kt-rs$i type veth peer name r$i netns $NS_DIR"
		done
	} | ipb root
	ipb "$NS_DIR" <<IP
link set lo up
link add br1 type bridge forward_delay 0
link set br1 up
addr add 10.99.1.1/24 dev br1
addr add $LAN_VIP/32 dev br1
link set pc master br1
link set pc up
$(for ((i = 1; i <= n; i++)); do echo "link set r$i master br1"; echo "link set r$i up"; done)
IP
	sysctls "$NS_DIR" net.ipv4.ip_forward=1
	ipb "$NS_C" <<IP
link set lo up
link set eth0 up
addr add $LAN_CIP/24 dev eth0
IP
	for ((i = 1; i <= n; i++)); do
		name=kt-rs$i
		# arp_ignore=1: answer ARP only for addresses on the receiving interface (not the VIP);
		# arp_announce=2: never use the VIP as the source of ARP requests
		sysctls "$name" net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
			net.ipv4.conf.default.arp_ignore=1 net.ipv4.conf.default.arp_announce=2 \
			net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2
		case $mode in
		dr)
			ipb "$name" <<IP
link set lo up
link set eth0 up
addr add $(rip "$i")/24 dev eth0
addr add $LAN_VIP/32 dev lo
IP
			;;
		tun)
			ipb "$name" <<IP
link set lo up
link set eth0 up
addr add $(rip "$i")/24 dev eth0
link set tunl0 up
addr add $LAN_VIP/32 dev tunl0
IP
			# the decapsulated packet arrives on tunl0 from the client, whose route is via
			# eth0: reverse-path filtering must be off
			sysctls "$name" net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
				net.ipv4.conf.tunl0.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0
			;;
		esac
	done
}

# ---------------------------------------------------------------- servers
# Plain HTTP: busybox httpd (starts fast) serving $WORK/srv-NAME-PORT/: index.html = NAME,
# check.html = "ok". HTTPS and the streaming /hold endpoint: httpd.py (python3, slower to start).
# server_down removes check.html (the check then gets 404), server_up puts it back.

# _listening PID PORT: is a socket in PID's netns listening on PORT (any address)?
_listening() {
	local hex f
	hex=$(printf ':%04X ' "$2")
	for f in /proc/"$1"/net/tcp /proc/"$1"/net/tcp6; do
		[ -r "$f" ] || continue
		while read -r _ l _ st _; do
			[ "$st" = 0A ] && [[ "$l " == *"$hex" ]] && return 0
		done <"$f"
	done
	return 1
}

# serve NS NAME ADDR PORT [https|py]: start a server for NAME on ADDR:PORT inside NS; SERVE_PID
serve() {
	local n=$1 name=$2 addr=$3 port=$4 kind=${5:-} dir bind
	dir=$WORK/srv-$name-$port
	mkdir -p "$dir"
	echo "$name" >"$dir/index.html"
	echo ok >"$dir/check.html"
	case $kind in
	https)
		_make_cert
		KT_SRVDIR=$dir ip netns exec "$n" python3 "$KT_DIR/httpd.py" "$name" "$addr" "$port" \
			"$WORK/cert.pem" "$WORK/key.pem" >"$dir/out" 2>"$dir/err" </dev/null &
		;;
	py)
		KT_SRVDIR=$dir ip netns exec "$n" python3 "$KT_DIR/httpd.py" "$name" "$addr" "$port" \
			>"$dir/out" 2>"$dir/err" </dev/null &
		;;
	*)
		bind=$addr
		[[ "$addr" == *:* ]] && bind="[$addr]"
		ip netns exec "$n" busybox httpd -f -p "$bind:$port" -h "$dir" >"$dir/out" 2>"$dir/err" </dev/null &
		;;
	esac
	SERVE_PID=$!
	track "$SERVE_PID"
	echo "$SERVE_PID" >"$dir/pid"
	wait_until 30 "$name listening on $addr:$port" _listening "$SERVE_PID" "$port" ||
		fail "server $name on $addr:$port did not start: $(tail -3 "$dir/err" | tr '\n' '|')"
}

# serve_reals N [v6|any]: plain HTTP server rsI in kt-rsI on port 80, for I = 1..N, at $(rip I)
# (v6: $(rip6 I); any: 0.0.0.0, for the LAN topology where the VIP is on the real too)
serve_reals() {
	local n=$1 family=${2:-v4} i addr
	for ((i = 1; i <= n; i++)); do
		case $family in
		v4) addr=$(rip "$i") ;;
		v6) addr=$(rip6 "$i") ;;
		any) addr=0.0.0.0 ;;
		*) fail "serve_reals: unknown address family $family" ;;
		esac
		serve "kt-rs$i" "rs$i" "$addr" 80
	done
}

# stop_server NAME PORT: kill that server (by its PID)
stop_server() {
	local dir=$WORK/srv-$1-$2
	kill_pid "$(cat "$dir/pid")"
}

# server_down NAME PORT / server_up NAME PORT: make /check.html answer 404 / "ok"
server_down() { rm -f "$WORK/srv-$1-$2/check.html"; }
server_up() { echo ok >"$WORK/srv-$1-$2/check.html"; }

_make_cert() {
	[ -f "$WORK/cert.pem" ] && return 0
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
		-days 2 -subj "/CN=kt-vip" >/dev/null 2>&1 || fail "openssl cannot make a self-signed cert"
}

# ---------------------------------------------------------------- client side

# get URL [curl args]: one request from the client netns, prints the body (trimmed)
get() {
	local url=$1
	shift
	ns "$NS_C" curl -sk --max-time 4 "$@" "$url" | tr -d '\r\n'
}

# hits COUNT URL [curl args]: COUNT sequential requests (each a new TCP connection: the servers
# close after every response) in ONE curl process; prints one body per line, "ERR" for each
# request that got no answer
hits() {
	local count=$1 url=$2 out n
	shift 2
	case $url in *\?*) url="$url&kt=[1-$count]" ;; *) url="$url?kt=[1-$count]" ;; esac
	out=$(ns "$NS_C" curl -sk --max-time 4 -H 'Connection: close' "$@" "$url" | tr -d '\r')
	printf '%s\n' "$out" | grep -v '^$'
	n=$(printf '%s\n' "$out" | grep -c . || true)
	while [ "$n" -lt "$count" ]; do
		echo ERR
		n=$((n + 1))
	done
}

# count_of WORD TEXT: how many lines of TEXT equal WORD
count_of() { printf '%s\n' "$2" | grep -cx -- "$1" || true; }

# ---------------------------------------------------------------- IPVS table

ipvs() { ns "$NS_DIR" ipvsadm -Ln "$@"; }

# wait_ipvs TIMEOUT REGEX: until `ipvsadm -Ln` has a line matching REGEX (grep -E)
wait_ipvs() {
	wait_until "$1" "ipvsadm -Ln ~ /$2/" _ipvs_grep "$2" ||
		fail "ipvsadm -Ln never showed /$2/ within $1 s; table: $(ipvs | tr '\n' '|')"
}

# wait_ipvs_gone TIMEOUT REGEX
wait_ipvs_gone() {
	wait_until "$1" "ipvsadm -Ln !~ /$2/" _ipvs_nogrep "$2" ||
		fail "ipvsadm -Ln still shows /$2/ after $1 s; table: $(ipvs | tr '\n' '|')"
}

_ipvs_grep() { ipvs | grep -Eq -- "$1"; }
_ipvs_nogrep() { ! ipvs | grep -Eq -- "$1"; }

assert_ipvs() {
	_ipvs_grep "$1" || fail "ipvsadm -Ln lacks /$1/; table: $(ipvs | tr '\n' '|')"
}

assert_no_ipvs() {
	_ipvs_nogrep "$1" || fail "ipvsadm -Ln shows /$1/; table: $(ipvs | tr '\n' '|')"
}

# dest_line RIP:PORT: the `ipvsadm -Ln` destination line for that real ("-> ADDR Fwd W A I")
dest_line() { ipvs | grep -E -- "-> \\[?$(_re "$1")\\]?(:| )" | head -1; }
# _re TEXT: TEXT as a literal in a grep -E regex (its '.', '[' and ']' escaped; no process)
_re() {
	local t=${1//./\\.}
	t=${t//\[/\\[}
	printf '%s' "${t//\]/\\]}"
}

snapshot() { ipvs >"$ART/ipvsadm-$1.txt" 2>&1; }

# ---------------------------------------------------------------- the director

# write_cf: the config from stdin, completed with the settings every scenario uses, each unless
# stdin sets it: checktimeout=1, checkinterval=1, logfile="$LOG" (first, as global lines)
write_cf() { _write_cf ""; }

# write_cf_http: like write_cf for a config of ONE virtual, which also gets the check every real
# here serves (each line unless stdin sets it): service=http, checktype=negotiate,
# request="check.html", receive="ok" (appended: they land in the last virtual)
write_cf_http() { _write_cf http; }

_write_cf() {
	local kind=$1 line key set=" " lines=() d
	while IFS= read -r line; do
		lines+=("$line")
		key=${line#"${line%%[![:space:]]*}"}
		set+="${key%%=*} "
	done
	{
		for d in checktimeout=1 checkinterval=1 "logfile=\"$LOG\""; do
			[[ $set == *" ${d%%=*} "* ]] || printf '%s\n' "$d"
		done
		printf '%s\n' "${lines[@]}"
		if [ "$kind" = http ]; then
			for d in service=http checktype=negotiate 'request="check.html"' 'receive="ok"'; do
				[[ $set == *" ${d%%=*} "* ]] || printf '\t%s\n' "$d"
			done
		fi
	} >"$CFG"
}

# reals_up VIRTUAL SCHED FWD REAL=WEIGHT...: the TCP virtual VIRTUAL (ADDR:PORT, [ADDR6]:PORT)
# with scheduler SCHED and the reals REAL (same forms) by forwarding method FWD (masq|gate|ipip),
# put there by the director from $CFG (or, in topology mode, by ipvsadm): starts the director,
# waits for its "Added real server: REAL (VIRTUAL) (Weight set to WEIGHT)" line for each real,
# then until ipvsadm -Ln shows the service and every real with its weight; snapshot "up".
reals_up() {
	local v=$1 sched=$2 fwd=$3 flag name r timeout=30
	shift 3
	case $fwd in
	masq) flag=-m name=Masq ;;
	gate) flag=-g name=Route ;;
	ipip) flag=-i name=Tunnel ;;
	*) fail "reals_up: unknown forwarding method $fwd" ;;
	esac
	if topology_mode; then
		ns "$NS_DIR" ipvsadm -A -t "$v" -s "$sched" || fail "ipvsadm -A -t $v"
		for r in "$@"; do
			ns "$NS_DIR" ipvsadm -a -t "$v" -r "${r%=*}" $flag -w "${r##*=}" || fail "ipvsadm -a ${r%=*}"
		done
	else
		director_start
		for r in "$@"; do
			wait_log $timeout "Added real server: ${r%=*} ($v) (Weight set to ${r##*=})"
			timeout=10
		done
	fi
	wait_ipvs 10 "^TCP  $(_re "$v") $sched"
	for r in "$@"; do
		wait_ipvs 10 "-> $(_re "${r%=*}") +$name +${r##*=} "
	done
	snapshot up
}

director_needed() {
	[ "$KT_MODE" = topology ] && return 0
	[ "${KT_DIRECTOR_OK:-0}" = 1 ] ||
		skip "ldirectord-rs has no working 'run --ipvs netlink' (binary: $KT_BIN)"
}

# director_start [extra args]: ldirectord-rs run in the director netns, in the background
director_start() {
	ip netns exec "$NS_DIR" "$KT_BIN" -f "$CFG" run --ipvs netlink "$@" \
		>>"$WORK/director.out" 2>&1 </dev/null &
	DIRECTOR_PID=$!
	track "$DIRECTOR_PID"
	note "director started, pid $DIRECTOR_PID"
}

# director_stop [SIGNAL]: signal the director and wait (bounded) for it to exit; sets DIRECTOR_RC
director_stop() {
	local sig=${1:-TERM} i
	DIRECTOR_RC=
	[ -n "$DIRECTOR_PID" ] || return 0
	kill "-$sig" "$DIRECTOR_PID" 2>/dev/null
	for i in {1..100}; do
		if ! kill -0 "$DIRECTOR_PID" 2>/dev/null; then
			wait "$DIRECTOR_PID" 2>/dev/null
			DIRECTOR_RC=$?
			DIRECTOR_PID=
			return 0
		fi
		nap 0.1
	done
	fail "director pid $DIRECTOR_PID did not exit within 10 s of SIG$sig"
}

director_alive() {
	[ -n "$DIRECTOR_PID" ] && kill -0 "$DIRECTOR_PID" 2>/dev/null ||
		fail "director exited early: $(tail -5 "$WORK/director.out" 2>/dev/null | tr '\n' '|')"
}

# director_fails WHY PREFIX...: run the director once, bounded (30 s), under PREFIX (a command
# that runs its arguments, e.g. `ip netns exec kt-dir setpriv ... --`), and assert it failed as
# a missing prerequisite must: it exited within the 30 s, non-zero, with exactly one error line
# on stderr (warning lines aside; that line is then in $WORK/errors). WHY ("without IPVS") goes
# into the failure messages. Sets RUN_RC; stdout, stderr and the exit code go to the artefacts.
director_fails() {
	local why=$1 lines
	shift
	"$@" timeout -k 2 30 "$KT_BIN" -f "$CFG" run --ipvs netlink \
		>"$WORK/stdout" 2>"$WORK/stderr" </dev/null
	RUN_RC=$?
	cp "$WORK/stdout" "$WORK/stderr" "$ART/"
	echo "exit code $RUN_RC" >"$ART/exit-code"
	note "exit code $RUN_RC; stderr: $(cat "$WORK/stderr")"
	[ $RUN_RC = 124 ] || [ $RUN_RC = 137 ] && fail "run did not exit within 30 s $why"
	[ $RUN_RC = 0 ] && fail "run exited 0 $why"
	grep -v -e '^$' -e 'warning:' "$WORK/stderr" >"$WORK/errors"
	lines=$(grep -c . "$WORK/errors")
	[ "$lines" = 1 ] || fail "expected exactly one error line on stderr, got $lines: $(tr '\n' '|' <"$WORK/stderr")"
}

# wait_log TIMEOUT TEXT: until the director's logfile has a line containing TEXT (fixed string)
wait_log() {
	wait_until "$1" "log line '$2'" grep -qF -- "$2" "$LOG" ||
		fail "log never said '$2' within $1 s; log tail: $(tail -5 "$LOG" 2>/dev/null | tr '\n' '|'); stderr: $(tail -3 "$WORK/director.out" 2>/dev/null | tr '\n' '|')"
}

# wait_log_count TIMEOUT N TEXT: until at least N log lines contain TEXT
wait_log_count() {
	wait_until "$1" "$2 log lines '$3'" _log_at_least "$2" "$3" ||
		fail "log has $(log_count "$3") (wanted >= $2) lines '$3' after $1 s; log tail: $(tail -5 "$LOG" 2>/dev/null | tr '\n' '|')"
}
_log_at_least() { [ "$(log_count "$2")" -ge "$1" ]; }

# log_count TEXT: number of log lines containing TEXT
log_count() { grep -cF -- "$1" "$LOG" 2>/dev/null || true; }

assert_no_log() {
	if grep -qF -- "$1" "$LOG" 2>/dev/null; then
		fail "log unexpectedly says '$1': $(grep -F -- "$1" "$LOG" | head -2 | tr '\n' '|')"
	fi
}

topology_mode() { [ "$KT_MODE" = topology ]; }

# ---------------------------------------------------------------- kernel function tracing
# A fast delete + re-add of a destination is invisible in `ipvsadm` (the kernel reuses the
# deleted dest from its trash: same counters, same connections), so "the entry was adopted, not
# recreated" is proven with ftrace on the IPVS functions that change destinations.
KTRACE=/sys/kernel/tracing

# ktrace_start FUNC...: trace calls of these (ip_vs module) functions; empties the trace
ktrace_start() {
	[ -w "$KTRACE/current_tracer" ] || mount -t tracefs nodev "$KTRACE" 2>/dev/null
	[ -w "$KTRACE/set_ftrace_filter" ] || return 1
	on_exit "ktrace_stop"
	local f
	echo nop >"$KTRACE/current_tracer" || return 1
	echo >"$KTRACE/set_ftrace_filter"
	for f in "$@"; do
		echo "$f" >>"$KTRACE/set_ftrace_filter" 2>/dev/null ||
			{ note "ftrace: cannot trace $f"; return 1; }
	done
	echo function >"$KTRACE/current_tracer" &&
		echo >"$KTRACE/trace" &&
		echo 1 >"$KTRACE/tracing_on"
}

ktrace_stop() {
	[ -w "$KTRACE/current_tracer" ] || return 0
	echo nop >"$KTRACE/current_tracer"
	echo >"$KTRACE/set_ftrace_filter"
}

# ktrace_dump FILE: the trace so far; ktrace_count FUNC FILE: calls of FUNC in it
ktrace_dump() { grep -v '^#' "$KTRACE/trace" >"$1"; }
ktrace_count() { grep -c " $1 <-" "$2" || true; }

# ---------------------------------------------------------------- ldirectord's command line
# `ldirectord-rs [-d] [CONF] start|stop|restart|try-restart|reload|force-reload|status`, as init
# scripts and Pacemaker's agent call it. The daemon `start` makes is not our child: lsb_track
# registers it for the EXIT trap (by PID, from its pid file).

# lsb_needed: skip unless the binary has ldirectord's command line
lsb_needed() {
	"$KT_BIN" -h start >/dev/null 2>&1 ||
		skip "ldirectord-rs has no ldirectord command line ([CONF] start|stop|status; binary: $KT_BIN)"
}

# pid_file_of NAME: ldirectord's pid file for config NAME (ldirectord.NAME.pid in /var/run)
pid_file_of() { echo "/var/run/ldirectord.$1.pid"; }

# lsb ARGS...: `ldirectord-rs ARGS` in the director netns, its stdout and stderr each read
# through a pipe to the end (as Pacemaker's agent reads them: a daemon that kept either open
# would hold the reader, bounded here by 60 s); sets LSB_RC, LSB_OUT, LSB_ERR and LSB_MS (how
# long until both pipes were at their end)
lsb() {
	local t0=${EPOCHREALTIME/./}
	rm -f "$WORK/lsb.rc"
	{ { ip netns exec "$NS_DIR" "$KT_BIN" "$@" </dev/null 2>&1 1>&3 3>&-; echo $? >"$WORK/lsb.rc"; } |
		timeout 60 cat >"$WORK/lsb.err"; } 3>&1 | timeout 60 cat >"$WORK/lsb.out"
	LSB_MS=$(((${EPOCHREALTIME/./} - t0) / 1000))
	LSB_RC=$(cat "$WORK/lsb.rc" 2>/dev/null || echo none)
	LSB_OUT=$(cat "$WORK/lsb.out")
	LSB_ERR=$(cat "$WORK/lsb.err")
	{
		echo "\$ ldirectord-rs $*  -> exit $LSB_RC in $LSB_MS ms"
		[ -n "$LSB_OUT" ] && echo "stdout: $LSB_OUT"
		[ -n "$LSB_ERR" ] && echo "stderr: $LSB_ERR"
	} >>"$ART/lsb-calls.txt"
	note "ldirectord-rs $*: exit $LSB_RC in $LSB_MS ms${LSB_OUT:+; stdout: $LSB_OUT}${LSB_ERR:+; stderr: $LSB_ERR}"
	[ "$LSB_MS" -lt 55000 ] || fail "ldirectord-rs $*: its stdout/stderr stayed open ($LSB_MS ms)"
}

# lsb_expect RC ARGS...: lsb ARGS and fail unless it exited RC
lsb_expect() {
	local want=$1
	shift
	lsb "$@"
	[ "$LSB_RC" = "$want" ] || fail "ldirectord-rs $*: exit $LSB_RC, expected $want (stdout: $LSB_OUT; stderr: $LSB_ERR)"
}

# lsb_track PIDFILE: the daemon named there is killed (by PID) when the scenario ends, and its
# pid file removed; sets LSB_PID
lsb_track() {
	LSB_PID=$(head -1 "$1" 2>/dev/null)
	[ -n "$LSB_PID" ] || fail "no pid in $1"
	track "$LSB_PID"
	on_exit "rm -f '$1'"
}

# alive PID: a running process, not a zombie
alive() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[ "${st:0:1}" != Z ]
}
