#!/bin/bash
# No outage at start: from an EMPTY table (as after a reboot or a failover to this node), with
# checkinterval=10 and a client requesting the VIP every 0.1 s (tests/kernel/vipclient.py, in
# the client netns): the time from starting the director to the first reply served by a real,
# when systemd's READY=1 came (a datagram on NOTIFY_SOCKET), and every request after that first
# reply must be served by a real (no error, no sorry server). Asserted for ldirectord-rs: the
# first reply within 1 s of its first table change (and within 10 s of the command: the 3 s
# target is reported, see below), READY by then + 1 s at the latest, no failure after it.
# ldirectord 4.12 (Debian's, Perl, the real ipvsadm; supervised=yes so that it stays in the
# foreground with a PID to stop, everything else as `ldirectord CONF start`) is measured the same
# way in the same boot, beside it: its figures are reported, not asserted. Figures in
# $ART/figures.txt (and BENCHMARKS.md). Then ldirectord's own form, `ldirectord-rs CONF start`
# (the daemon; Pacemaker's agent and init scripts call it): the command returns once the daemon
# serves, so the first request after it returns is answered by a real.
# kt-timeout: 300  (three directors started, each watched for 16 s after its first reply)
. "$(dirname "$0")/../lib.sh"
need_ipvs
director_needed
topology_mode && skip "measures the director itself"
topo_nat 2 sorry
serve_reals 2
serve kt-sorry sorry $SORRY_IP 80
R1="$(rip 1):80"
R2="$(rip 2):80"
V="$VIP:80"

write_cf_http <<CF
checkinterval=10
virtual=$V
	real=$R1 masq
	real=$R2 masq
	fallback=$SORRY_IP:80 masq
	scheduler=rr
CF

FIG=$ART/figures.txt
: >"$FIG"

# After the first reply from a real, how long the client keeps requesting.
WATCH=16

# measure NAME CMD...: with the table empty and the client requesting, run CMD (which starts a
# director in the background) and watch until the first reply from a real + $WATCH s. Sets
# T_FIRST (ms from start to the first reply from a real, "" if none within 60 s), T_READY (ms
# to READY=1, "" if none), N_AFTER (requests after the first reply), N_ERR (those not answered),
# N_SORRY (those answered by the sorry server), N_FAIL (both).
measure() {
	local name=$1 out sock cpid t0 deadline
	shift
	out=$WORK/client-$name.txt
	sock=$WORK/notify-$name.sock
	rm -f "$out" "$out.stop"
	ns "$NS_DIR" ipvsadm -C
	ns "$NS_C" python3 "$KT_DIR/vipclient.py" "http://$VIP/" "$out" "$sock" 120 \
		>"$WORK/client-$name.out" 2>&1 </dev/null &
	cpid=$!
	track "$cpid"
	wait_until 30 "the client requesting" grep -q . "$out" ||
		fail "the client did not start: $(tail -3 "$WORK/client-$name.out" | tr '\n' '|')"
	NOTIFY_SOCK=$sock
	t0=$(( ${EPOCHREALTIME/./} / 1000 ))
	"$@"
	T_RETURN=$(( ${EPOCHREALTIME/./} / 1000 - t0 ))
	wait_until 60 "$name: a reply from a real" grep -qE ' rs[12]$' "$out"
	nap "$WATCH"
	touch "$out.stop"
	wait "$cpid" 2>/dev/null
	cp "$out" "$ART/"
	read -r T_FIRST T_READY N_AFTER N_ERR N_SORRY < <(awk -v t0="$t0" '
		$2 ~ /^notify:/ { if (index($0, "READY=1") && ready == "") ready = $1 - t0; next }
		$1 < t0 { next }
		first == "" && ($2 == "rs1" || $2 == "rs2") { first = $1 - t0; next }
		first != "" { n++; if ($2 == "sorry") s++; else if ($2 != "rs1" && $2 != "rs2") e++ }
		END { printf "%s %s %d %d %d\n", (first == "" ? "-" : first), (ready == "" ? "-" : ready), n, e, s }
	' "$out")
	[ "$T_FIRST" = - ] && T_FIRST=
	[ "$T_READY" = - ] && T_READY=
	N_FAIL=$((N_ERR + N_SORRY))
	# The first request made after CMD returned.
	AFTER_RETURN=$(awk -v t="$((t0 + T_RETURN))" '$2 !~ /^notify:/ && $1 >= t { print $2; exit }' "$out")
	echo "$t0" >"$ART/t0-$name.txt"
	local line ready=", no READY=1"
	[ -n "$T_READY" ] && ready=", READY=1 at $(secs "$T_READY") s"
	line=$(printf '%s: first reply from a real %s s after start%s; in the %d s after it %d requests: %d not answered, %d answered by the sorry server' \
		"$name" "$(secs "$T_FIRST")" "$ready" "$WATCH" "$N_AFTER" "$N_ERR" "$N_SORRY")
	note "$line"
	echo "$line" >>"$FIG"
}

# secs MS: milliseconds as seconds with one decimal ("none" when empty)
secs() { [ -n "$1" ] && printf '%d.%d' $(($1 / 1000)) $((($1 % 1000) / 100)) || printf none; }

start_rs() {
	export NOTIFY_SOCKET=$NOTIFY_SOCK
	director_start
	unset NOTIFY_SOCKET
}

# log_ms STAMP: a log line's time stamp (anything date -d reads) in ms since the epoch
log_ms() { date -d "$1" +%s%3N 2>/dev/null; }

measure ldirectord-rs start_rs
RS_FIRST=$T_FIRST RS_READY=$T_READY RS_AFTER=$N_AFTER RS_FAIL=$N_FAIL
# Where the time went: the first table change (the process start-up before it is ~0.3 s per
# process under emulation), the first real added.
t0=$(cat "$ART/t0-ldirectord-rs.txt")
first_line=$(grep -m1 -F "Added virtual server" "$LOG" | cut -d' ' -f1)
first_real=$(grep -m1 -F "Added real server" "$LOG" | cut -d' ' -f1)
RS_VIRTUAL=$(($(log_ms "$first_line") - t0))
line="ldirectord-rs: virtual added at $(secs "$RS_VIRTUAL") s, first real added at $(secs $(($(log_ms "$first_real") - t0))) s"
note "$line"
echo "$line" >>"$FIG"
snapshot rs-served
director_stop TERM
[ "$DIRECTOR_RC" = 0 ] || fail "ldirectord-rs exited $DIRECTOR_RC on SIGTERM"

# ldirectord's command line: `CONF start` returns once the daemon serves.
if "$KT_BIN" -h start >/dev/null 2>&1; then
	CFG_LSB=$WORK/lsb.cf
	sed -e "s|^logfile=.*|logfile=\"$WORK/lsb.log\"|" "$CFG" >"$CFG_LSB"
	PF=$(pid_file_of lsb.cf)
	rm -f "$PF"
	start_lsb() {
		lsb "$CFG_LSB" start
		[ "$LSB_RC" = 0 ] || fail "ldirectord-rs $CFG_LSB start: exit $LSB_RC ($LSB_ERR)"
		lsb_track "$PF"
	}
	measure "ldirectord-rs-start" start_lsb
	line="ldirectord-rs CONF start: returned at $(secs "$T_RETURN") s; the first request after it was answered by: ${AFTER_RETURN:-nothing}"
	note "$line"
	echo "$line" >>"$FIG"
	case $AFTER_RETURN in
	rs1 | rs2) ;;
	*) fail "ldirectord-rs CONF start returned before the daemon served: the next request got ${AFTER_RETURN:-nothing}" ;;
	esac
	[ "$N_FAIL" = 0 ] || fail "ldirectord-rs CONF start: $N_FAIL of $N_AFTER requests after the first reply were not served by a real"
	lsb_expect 0 "$CFG_LSB" stop
	cp "$WORK/lsb.log" "$ART/" 2>/dev/null
fi

# ldirectord 4.12 beside it, when installed (with LWP for its HTTP check).
LD=/usr/sbin/ldirectord
if [ -x "$LD" ] && perl -MLWP::UserAgent -e 1 2>/dev/null; then
	LDCF=$WORK/ldirectord-perl.cf
	{
		echo "supervised=yes"
		sed -e "s|^logfile=.*|logfile=\"$WORK/ldirectord-perl.log\"|" "$CFG"
	} >"$LDCF"
	cp "$LDCF" "$ART/"
	start_ld() {
		ip netns exec "$NS_DIR" "$LD" "$LDCF" start >>"$WORK/ldirectord-perl.out" 2>&1 </dev/null &
		LD_PID=$!
		track "$LD_PID"
	}
	measure "ldirectord-4.12" start_ld
	snapshot ld-served
	kill_pid "$LD_PID"
	# Its log lines (on its standard output when supervised) have whole seconds.
	t0=$(cat "$ART/t0-ldirectord-4.12.txt")
	stamp() { grep -m1 -F "$1" "$WORK/ldirectord-perl.out" | sed -n 's/^\[\([^]]*\)\].*/\1/p'; }
	line="ldirectord-4.12: Perl running (its first log line) at $(secs $(($(log_ms "$(stamp Invoking)") - t0))) s, first real added at $(secs $(($(log_ms "$(stamp "Added real server")") - t0))) s (log stamps in whole seconds)"
	note "$line"
	echo "$line" >>"$FIG"
	cp "$WORK/ldirectord-perl.log" "$WORK/ldirectord-perl.out" "$ART/" 2>/dev/null
	ns "$NS_DIR" ipvsadm -C
else
	note "ldirectord (Perl) or LWP not installed: not measured beside"
	echo "ldirectord 4.12: not installed, not measured" >>"$FIG"
fi

[ -n "$RS_FIRST" ] || fail "ldirectord-rs: no reply from a real within 60 s"
# The director's own part: from its first table change (the process started, the config read,
# IPVS opened: ~0.3 s per process start under emulation, more on a loaded host) to the first
# reply from a real. Waiting for a regular check (checkinterval=10) would take seconds.
[ $((RS_FIRST - RS_VIRTUAL)) -le 1000 ] ||
	fail "ldirectord-rs: first reply from a real $(secs $((RS_FIRST - RS_VIRTUAL))) s after the virtual was added (at $(secs "$RS_VIRTUAL") s)"
# The whole, from the command: the issue's target is 3 s in the VM; on a host loaded by other
# work the emulated process start alone can take that long, so it is reported, and only a
# figure no better than waiting for the first regular check (10 s) fails.
if [ "$RS_FIRST" -le 3000 ]; then
	echo "ldirectord-rs: target met (first reply under 3 s in the VM)" >>"$FIG"
else
	note "first reply after $(secs "$RS_FIRST") s: over the 3 s target (process start-up $(secs "$RS_VIRTUAL") s)"
	echo "ldirectord-rs: over the 3 s target (process start-up $(secs "$RS_VIRTUAL") s)" >>"$FIG"
fi
[ "$RS_FIRST" -lt 10000 ] || fail "ldirectord-rs: first reply from a real after $(secs "$RS_FIRST") s"
[ "$RS_FAIL" = 0 ] || fail "ldirectord-rs: $RS_FAIL of $RS_AFTER requests after the first reply were not served by a real"
[ "$RS_AFTER" -ge 50 ] || fail "ldirectord-rs: only $RS_AFTER requests after the first reply (client too slow?)"
[ -n "$RS_READY" ] || fail "ldirectord-rs: no READY=1 on NOTIFY_SOCKET"
[ "$RS_READY" -le $((RS_FIRST + 1000)) ] ||
	fail "ldirectord-rs: READY=1 at $(secs "$RS_READY") s, long after the first reply ($(secs "$RS_FIRST") s)"
pass
