#!/bin/bash
# ldirectord's command line against the real IPVS: `CONF start` daemonises and returns once
# serving, with the caller's stdout and stderr at their end; the daemon's command line is
# `BIN CONF start` (pgrep -f finds it) and its pid file is ldirectord's; `status` says
# ldirectord's words with LSB codes (3 stopped, 0 running, 1 stale pid file); `reload` keeps the
# process and applies the new config; `restart` and `try-restart`; `stop` waits until the daemon
# is gone and its cleanstop done. A failure before serving (the statusaddress taken) exits 1
# with one line and leaves the kernel table untouched.
# kt-timeout: 240  (some 25 calls of the binary, each ~1-2 s under emulation)
. "$(dirname "$0")/../lib.sh"
need_ipvs
director_needed
topology_mode && skip "the LSB verbs need the director"
lsb_needed
topo_nat 2
serve_reals 2
R1="$(rip 1):80"
R2="$(rip 2):80"
V="$VIP:80"
PF=$(pid_file_of ldirectord.cf)
rm -f "$PF"

cf() {
	write_cf_http <<CF
virtual=$V
	real=$R1 masq $1
	real=$R2 masq
	scheduler=wrr
CF
}
cf 1

lsb_expect 3 "$CFG" status
[ "$LSB_OUT" = "ldirectord is stopped for $CFG" ] || fail "status (stopped) said: $LSB_OUT"
lsb_expect 0 "$CFG" stop
lsb_expect 0 "$CFG" try-restart
[ -e "$PF" ] && fail "try-restart started a director that was not running"
lsb_expect 1 "$CFG" reload

# start
lsb_expect 0 "$CFG" start
[ -z "$LSB_OUT$LSB_ERR" ] || fail "start printed: $LSB_OUT $LSB_ERR"
[ -f "$PF" ] || fail "no pid file $PF after start"
lsb_track "$PF"
PID1=$LSB_PID
alive "$PID1" || fail "pid $PID1 from $PF is not running"
cmd=$(tr '\0' ' ' <"/proc/$PID1/cmdline")
[ "$cmd" = "$KT_BIN $CFG start " ] || fail "daemon command line: '$cmd'"
found=$(pgrep -f "$KT_BIN $CFG start")
[ "$found" = "$PID1" ] || fail "pgrep -f '$KT_BIN $CFG start' found '$found', expected $PID1"
ppid=$(awk '{print $4}' "/proc/$PID1/stat")
[ "$ppid" != $$ ] || fail "the daemon is a child of the caller"
note "daemon pid $PID1, parent $ppid, started in $LSB_MS ms"
wait_log 30 "Added real server: $R1 ($V) (Weight set to 1)"
wait_log 10 "Added real server: $R2 ($V) (Weight set to 1)"
wait_ipvs 10 "^TCP  $(_re "$V") wrr"
wait_ipvs 10 "-> $(_re "$R1") +Masq +1 "
wait_ipvs 10 "-> $(_re "$R2") +Masq +1 "
snapshot started
out=$(hits 4 "http://$VIP/")
[ "$(count_of rs1 "$out")" = 2 ] && [ "$(count_of rs2 "$out")" = 2 ] || fail "VIP did not serve both reals: $(echo $out)"

lsb_expect 0 "$CFG" status
[ "$LSB_ERR" = "ldirectord for $CFG is running with pid: $PID1" ] || fail "status (running) said: $LSB_ERR"
lsb_expect 0 "$CFG" start
[ "$(head -1 "$PF")" = "$PID1" ] || fail "a second start replaced the daemon"

# reload: same process, new weight in the kernel
cf 3
lsb_expect 0 "$CFG" reload
wait_log 10 "Received SIGHUP, reloading"
wait_ipvs 10 "-> $(_re "$R1") +Masq +3 "
alive "$PID1" || fail "reload ended the daemon"
[ "$(head -1 "$PF")" = "$PID1" ] || fail "reload changed the pid"
lsb_expect 0 "$CFG" force-reload
wait_log_count 10 2 "Received SIGHUP, reloading"
# an invalid config: reload says so, the daemon keeps serving
echo "	frobnicate=yes" >>"$CFG"
lsb_expect 2 "$CFG" reload
case $LSB_ERR in *frobnicate*) ;; *) fail "reload of a bad config did not name the problem: $LSB_ERR" ;; esac
lsb_expect 2 "$CFG" restart
alive "$PID1" || fail "restart with a bad config stopped the daemon"
cf 3

# restart, try-restart: a new daemon each time, serving again
lsb_expect 0 "$CFG" restart
PID2=$(head -1 "$PF")
[ -n "$PID2" ] && [ "$PID2" != "$PID1" ] || fail "restart: pid $PID1 -> '$PID2'"
alive "$PID1" && fail "restart left the old daemon $PID1 running"
lsb_track "$PF"
wait_ipvs 30 "-> $(_re "$R1") +Masq +3 "
lsb_expect 0 "$CFG" try-restart
PID3=$(head -1 "$PF")
[ "$PID3" != "$PID2" ] || fail "try-restart of a running daemon did not restart it"
lsb_track "$PF"
wait_ipvs 30 "-> $(_re "$R2") +Masq +1 "

# stop: returns once the daemon is gone and cleanstop removed the virtual
lsb_expect 0 "$CFG" stop
alive "$PID3" && fail "stop returned with the daemon $PID3 still running"
[ -e "$PF" ] && fail "pid file left after stop"
assert_no_ipvs "^TCP  $(_re "$V") "
snapshot stopped
lsb_expect 3 "$CFG" status

# a stale pid file: status 1, ldirectord's words on stderr and stdout
echo "$PID3" >"$PF"
lsb_expect 1 "$CFG" status
[ "$LSB_ERR" = "ldirectord stale pid file $PF for $CFG" ] || fail "stale status stderr: $LSB_ERR"
[ "$LSB_OUT" = "ldirectord is stopped for $CFG" ] || fail "stale status stdout: $LSB_OUT"
rm -f "$PF"

# a failure before serving: the statusaddress is taken; exit 1, one line, table untouched
ip netns exec "$NS_DIR" busybox httpd -f -p 127.0.0.1:9116 -h "$WORK" </dev/null >/dev/null 2>&1 &
TAKER=$!
track $TAKER
wait_until 10 "port 9116 taken" _listening $TAKER 9116 || fail "busybox httpd on 9116 did not start"
write_cf_http <<CF
statusaddress=127.0.0.1:9116
virtual=$V
	real=$R1 masq
	scheduler=rr
CF
: >"$LOG"
lsb_expect 1 "$CFG" start
[ "$(printf '%s\n' "$LSB_ERR" | grep -c .)" = 1 ] || fail "expected one error line, got: $LSB_ERR"
case $LSB_ERR in *"cannot listen on statusaddress 127.0.0.1:9116"*) ;; *) fail "start error: $LSB_ERR" ;; esac
[ -e "$PF" ] && fail "pid file left by a start that failed"
assert_no_ipvs "^TCP  $(_re "$V") "
assert_no_log "Added virtual server"
snapshot failed-start
pass
