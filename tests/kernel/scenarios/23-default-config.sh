#!/bin/bash
# ldirectord's default config and names: `ldirectord-rs start` with no CONF reads
# /etc/ha.d/ldirectord.cf, writes /var/run/ldirectord.ldirectord.pid (the PIDFile= of Debian's
# ldirectord.service) and, without logfile=, logs to /var/log/ldirectord.log; `status` finds it
# whichever way the config is named (no CONF, `ldirectord.cf`, the full path: ldirectord 4.12
# answers "stopped" to `ldirectord.cf status` there); a bare name is also looked up in
# /etc/ha.d/conf/. /etc/ha.d and /var/log are the scenario's own directories, bind-mounted in a
# mount namespace of its own (the VM shares the host's files: nothing of the host's is written).
if [ -z "${KT_OWN_MOUNTS:-}" ]; then
	KT_OWN_MOUNTS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/../lib.sh"
need_ipvs
director_needed
topology_mode && skip "the default config needs the director"
lsb_needed
[ -d /etc/ha.d ] || skip "no /etc/ha.d to mount over (Debian package resource-agents makes it)"
mkdir -p "$WORK/ha.d/conf" "$WORK/varlog"
mount --bind "$WORK/ha.d" /etc/ha.d || fail "cannot bind-mount over /etc/ha.d"
mount --bind "$WORK/varlog" /var/log || fail "cannot bind-mount over /var/log"
topo_nat 2
serve_reals 2
R1="$(rip 1):80"
R2="$(rip 2):80"
V="$VIP:80"
PF=$(pid_file_of ldirectord)
rm -f "$PF"
on_exit "rm -f '$PF'"
LOG=/var/log/ldirectord.log
DEF=/etc/ha.d/ldirectord.cf
cat >"$DEF" <<CF
checktimeout=1
checkinterval=1
virtual=$V
	real=$R1 masq
	real=$R2 masq
	scheduler=rr
	service=http
	checktype=negotiate
	request="check.html"
	receive="ok"
CF
cp "$DEF" "$WORK/ha.d/conf/other.cf"
cp "$DEF" "$ART/"

lsb_expect 3 status
[ "$LSB_OUT" = "ldirectord is stopped for $DEF" ] || fail "status said: $LSB_OUT"
lsb_expect 0 start
[ -f "$PF" ] || fail "no pid file $PF (ls /var/run: $(ls /var/run | grep ldirectord | tr '\n' ' '))"
lsb_track "$PF"
PID=$LSB_PID
[ "$(tr '\0' ' ' <"/proc/$PID/cmdline")" = "$KT_BIN start " ] || fail "daemon command line: $(tr '\0' ' ' <"/proc/$PID/cmdline")"
wait_log 30 "Added real server: $R1 ($V) (Weight set to 1)"
wait_log 10 "Added real server: $R2 ($V) (Weight set to 1)"
cp "$LOG" "$ART/ldirectord.log"
wait_ipvs 10 "-> $(_re "$R1") +Masq +1 "
wait_ipvs 10 "-> $(_re "$R2") +Masq +1 "
for conf in "" ldirectord.cf "$DEF"; do
	lsb_expect 0 $conf status
	[ "$LSB_ERR" = "ldirectord for $DEF is running with pid: $PID" ] || fail "'${conf:-(no CONF)} status' said: $LSB_ERR"
done
lsb_expect 3 other.cf status
[ "$LSB_OUT" = "ldirectord is stopped for /etc/ha.d/conf/other.cf" ] || fail "other.cf status said: $LSB_OUT"
lsb_expect 1 nonexistent.cf status
[ "$LSB_ERR" = "Config file nonexistent.cf not found" ] || fail "nonexistent.cf status said: $LSB_ERR"
lsb_expect 0 ldirectord.cf stop
alive "$PID" && fail "stop by the bare name did not stop the daemon started without CONF"
assert_no_ipvs "^TCP  $(_re "$V") "
grep -q "Exiting" "$LOG" || fail "no 'Exiting' in $LOG"
cp "$LOG" "$ART/ldirectord.log"
lsb_expect 3 status
pass
