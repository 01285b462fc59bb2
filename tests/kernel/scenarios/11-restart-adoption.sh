#!/bin/bash
# Restart adoption with cleanstop=no: SIGTERM leaves the table serving; a new director adopts the
# existing, healthy entries instead of deleting and re-adding them. Proof: a long-lived client
# connection through the VIP (streaming 1 KiB every 0.1 s) stays open across the restart and
# completes; the real's ActiveConn stays 1 throughout; the kernel's per-real connection counter
# (ipvsadm --stats "Conns") is not reset; expire_nodest_conn=1 is set, so had the real been
# deleted even briefly, the streaming connection would have been expired by the kernel; and the
# new director logs no "Deleted"/"Purged" for it.
. "$(dirname "$0")/../lib.sh"
need_ipvs
director_needed
topo_nat 1
serve kt-rs1 rs1 "$(rip 1)" 80 py
R1="$(rip 1):80"
V="$VIP:80"
ns $NS_DIR sysctl -qw net.ipv4.vs.expire_nodest_conn=1 || fail "sysctl expire_nodest_conn"

write_cf <<CF
checktimeout=1
checkinterval=1
cleanstop=no
logfile="$LOG"
virtual=$V
	real=$R1 masq
	service=http
	scheduler=rr
	checktype=negotiate
	request="check.html"
	receive="ok"
CF

if topology_mode; then
	ns $NS_DIR ipvsadm -A -t $V -s rr && ns $NS_DIR ipvsadm -a -t $V -r $R1 -m -w 1 || fail "ipvsadm"
else
	director_start
	wait_log 30 "Added real server: $R1 ($V) (Weight set to 1)"
fi
wait_ipvs 10 "-> $R1 +Masq +1 "

# the long-lived connection
ns $NS_C curl -s --max-time 100 -o "$WORK/hold.out" "http://$VIP/hold" &
HOLD=$!
track $HOLD
wait_until 15 "ActiveConn 1 on rs1" sh -c "ip netns exec $NS_DIR ipvsadm -Ln | grep -E -- '-> $R1 +Masq +1 +1 '" ||
	fail "held connection not seen as ActiveConn: $(dest_line $R1)"
conns() { ns $NS_DIR ipvsadm -Ln --stats | grep -E -- "-> $R1 " | awk '{print $3}'; }
c0=$(conns)
snapshot 1-before
note "before restart: $(dest_line $R1); Conns=$c0"

if topology_mode; then
	sleep 2
else
	director_stop TERM
	note "director exit code after SIGTERM: $DIRECTOR_RC"
	[ "$DIRECTOR_RC" = 0 ] || fail "SIGTERM exit code $DIRECTOR_RC (expected 0)"
	assert_ipvs "-> $R1 +Masq +1 +1 "
	snapshot 2-stopped
	lines_before=$(wc -l <"$LOG")
	director_start
	# let it run its start-up sync and several check rounds
	for i in $(seq 1 25); do
		sleep 0.2
		dest_line $R1 | grep -Eq -- "-> $R1 +Masq +1 +1 " || fail "during restart the entry changed: $(dest_line $R1)"
	done
	director_alive
	tail -n +$((lines_before + 1)) "$LOG" >"$WORK/after.log"
	cp "$WORK/after.log" "$ART/log-after-restart.txt"
	grep -qE "(Deleted|Purged) real server: $R1" "$WORK/after.log" &&
		fail "the restarted director deleted the healthy real: $(tr '\n' '|' <"$WORK/after.log")"
fi
kill -0 $HOLD 2>/dev/null || fail "the long-lived client connection ended during the restart: $(tail -c 100 "$WORK/hold.out")"
c1=$(conns)
assert_ipvs "-> $R1 +Masq +1 +1 "
[ -n "$c0" ] && [ "$c1" -ge "$c0" ] || fail "per-real Conns counter went from $c0 to $c1 (entry recreated?)"
snapshot 3-after
# release the stream: it must end cleanly with the server's END marker
touch "$WORK/srv-rs1-80/release"
wait "$HOLD"
hrc=$?
grep -q "^END rs1" "$WORK/hold.out" || fail "held connection broken (curl rc $hrc, $(wc -c <"$WORK/hold.out") bytes, no END marker)"
[ $hrc = 0 ] || fail "held connection: curl exit $hrc"
note "held connection got $(wc -c <"$WORK/hold.out") bytes and END"
topology_mode || director_alive
pass
