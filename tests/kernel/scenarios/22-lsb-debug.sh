#!/bin/bash
# `ldirectord-rs -d CONF start`: the director in the foreground (the process started is the one
# serving, named in the pid file), its event log and debug output on stderr (not in logfile=),
# programming the real IPVS; `status` finds it; SIGTERM stops it (exit 0, cleanstop done).
. "$(dirname "$0")/../lib.sh"
need_ipvs
director_needed
topology_mode && skip "-d needs the director"
lsb_needed
topo_nat 2
serve_reals 2
R1="$(rip 1):80"
R2="$(rip 2):80"
V="$VIP:80"
PF=$(pid_file_of ldirectord.cf)
rm -f "$PF"
on_exit "rm -f '$PF'"
write_cf_http <<CF
virtual=$V
	real=$R1 masq
	real=$R2 masq
	scheduler=rr
CF

ip netns exec "$NS_DIR" "$KT_BIN" -d "$CFG" start >"$WORK/debug.out" 2>"$WORK/debug.err" </dev/null &
DPID=$!
track $DPID
for r in "$R1" "$R2"; do
	wait_until 30 "$r added (on stderr)" grep -qF "Added real server: $r ($V)" "$WORK/debug.err" ||
		fail "-d start: no 'Added real server: $r' on stderr: $(tail -5 "$WORK/debug.err" | tr '\n' '|')"
done
cp "$WORK/debug.err" "$ART/debug.err"
wait_ipvs 10 "-> $(_re "$R1") +Masq +1 "
wait_ipvs 10 "-> $(_re "$R2") +Masq +1 "
alive $DPID || fail "-d start did not stay in the foreground"
[ "$(head -1 "$PF" 2>/dev/null)" = "$DPID" ] || fail "pid file $PF says '$(cat "$PF" 2>/dev/null)', expected the foreground pid $DPID"
grep -q "DEBUG" "$WORK/debug.err" || fail "-d: no debug lines on stderr"
grep -qE "DEBUG .*check .* of $(_re "$R1"): up" "$WORK/debug.err" || fail "-d: no debug line for the checks of $R1"
[ -s "$LOG" ] && grep -q "Added real server" "$LOG" && fail "-d wrote the event log to logfile= instead of stderr"
lsb_expect 0 "$CFG" status
[ "$LSB_ERR" = "ldirectord for $CFG is running with pid: $DPID" ] || fail "status: $LSB_ERR"
kill -TERM $DPID
wait_until 15 "-d director exits" sh -c "! kill -0 $DPID 2>/dev/null" || fail "-d director did not exit after SIGTERM"
wait $DPID
rc=$?
[ $rc = 0 ] || fail "-d director exit code $rc after SIGTERM"
cp "$WORK/debug.err" "$ART/debug.err"
grep -q "Exiting" "$WORK/debug.err" || fail "no 'Exiting' on stderr"
assert_no_ipvs "^TCP  $(_re "$V") "
[ -e "$PF" ] && fail "pid file left after the -d director stopped"
pass
