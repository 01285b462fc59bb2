#!/bin/bash
# Restart adoption with cleanstop=no: SIGTERM leaves the table serving; a new director adopts the
# existing, healthy entries instead of deleting and re-adding them. Proof:
#  - kernel side, exact: ftrace on ip_vs_del_dest/ip_vs_add_dest/ip_vs_edit_dest and
#    ip_vs_add_service/ip_vs_unlink_service across stop + restart: no destination or service
#    is deleted or added.
#    (A fast delete + re-add is otherwise invisible: the kernel reuses the dest from its trash,
#    keeping counters and connections; verified in this VM.)
#  - a long-lived client connection through the VIP (1 KiB every 0.1 s) stays open across the
#    restart and completes; ActiveConn stays 1 throughout; expire_nodest_conn=1, so a real
#    missing for longer than a packet interval would have broken that connection;
#  - the new director logs no "Deleted"/"Purged" for the real.
. "$(dirname "$0")/../lib.sh"
need_ipvs
director_needed
topo_nat 1
serve kt-rs1 rs1 "$(rip 1)" 80 py
R1="$(rip 1):80"
V="$VIP:80"
ns $NS_DIR sysctl -qw net.ipv4.vs.expire_nodest_conn=1 || fail "sysctl expire_nodest_conn"

write_cf_http <<CF
cleanstop=no
virtual=$V
	real=$R1 masq
	scheduler=rr
CF

reals_up "$V" rr masq "$R1=1"

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
	# self-test of the kernel-side oracle: a delete + re-add in one batch is seen by ftrace
	# (and by nothing else: the connection and the counters survive it)
	ktrace_start ip_vs_del_dest ip_vs_add_dest || fail "ftrace not available"
	printf -- '-d -t %s -r %s\n-a -t %s -r %s -m\n' $V $R1 $V $R1 | ns $NS_DIR ipvsadm -R || fail "ipvsadm -R"
	ktrace_dump "$ART/ftrace-selftest.txt"
	[ "$(ktrace_count ip_vs_del_dest "$ART/ftrace-selftest.txt")" = 1 ] &&
		[ "$(ktrace_count ip_vs_add_dest "$ART/ftrace-selftest.txt")" = 1 ] ||
		fail "ftrace did not see the delete + re-add: $(tr '\n' '|' <"$ART/ftrace-selftest.txt")"
	nap 1
else
	if ktrace_start ip_vs_del_dest ip_vs_add_dest ip_vs_edit_dest ip_vs_new_dest \
		ip_vs_add_service ip_vs_unlink_service ip_vs_edit_service; then
		TRACED=1
	else
		TRACED=0
		note "ftrace not available: the kernel-side proof is skipped (other checks remain)"
	fi
	director_stop TERM
	note "director exit code after SIGTERM: $DIRECTOR_RC"
	[ "$DIRECTOR_RC" = 0 ] || fail "SIGTERM exit code $DIRECTOR_RC (expected 0)"
	assert_ipvs "-> $R1 +Masq +1 +1 "
	snapshot 2-stopped
	lines_before=$(wc -l <"$LOG")
	director_start
	# let it run its start-up sync and several check rounds (>= 6 s at checkinterval=1)
	t_end=$((${EPOCHREALTIME/./} / 1000 + 6000))
	while [ $((${EPOCHREALTIME/./} / 1000)) -lt $t_end ]; do
		nap 0.3
		dest_line $R1 | grep -Eq -- "-> $R1 +Masq +1 +1 " || fail "during restart the entry changed: $(dest_line $R1)"
	done
	director_alive
	tail -n +$((lines_before + 1)) "$LOG" >"$WORK/after.log"
	cp "$WORK/after.log" "$ART/log-after-restart.txt"
	grep -qE "(Deleted|Purged) real server: $R1" "$WORK/after.log" &&
		fail "the restarted director deleted the healthy real: $(tr '\n' '|' <"$WORK/after.log")"
	if [ "$TRACED" = 1 ]; then
		ktrace_dump "$ART/ftrace-restart.txt"
		for f in ip_vs_del_dest ip_vs_add_dest ip_vs_unlink_service ip_vs_add_service; do
			n=$(ktrace_count $f "$ART/ftrace-restart.txt")
			[ "$n" = 0 ] || fail "kernel saw $n call(s) of $f during stop+restart (entry recreated, not adopted): $(head -5 "$ART/ftrace-restart.txt" | tr '\n' '|')"
		done
		note "ftrace over stop+restart: $(grep -c . "$ART/ftrace-restart.txt") IPVS set calls, $(ktrace_count ip_vs_edit_dest "$ART/ftrace-restart.txt") edit_dest, 0 add/del"
	fi
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
pass
