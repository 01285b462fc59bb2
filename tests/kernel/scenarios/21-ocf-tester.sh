#!/bin/bash
# Pacemaker's ocf:heartbeat:ldirectord agent (Debian's resource-agents) managing ldirectord-rs
# (ldirectord=BIN) against the real IPVS: ocf-tester passes (monitor when stopped, start,
# monitor, stop, start twice, stop twice, ... each through the agent's own `$BIN $CONF start`,
# `$BIN $CONF status`, `pgrep -f "$BIN $CONF start"`); then the agent starts it once more, the
# VIP serves both reals, monitor says running, and the agent's stop leaves the table clean.
# kt-timeout: 300  (ocf-tester runs the agent some 20 times, each ~4 s under emulation)
. "$(dirname "$0")/../lib.sh"
need_ipvs
director_needed
topology_mode && skip "ocf-tester needs the director"
lsb_needed
AGENT=/usr/lib/ocf/resource.d/heartbeat/ldirectord
[ -x /usr/sbin/ocf-tester ] && [ -x "$AGENT" ] || skip "ocf-tester or $AGENT missing (Debian package resource-agents)"
command -v xmllint >/dev/null || skip "xmllint missing (libxml2-utils): ocf-tester checks the agent's meta-data with it"
topo_nat 2
serve_reals 2
R1="$(rip 1):80"
R2="$(rip 2):80"
V="$VIP:80"
PF=$(pid_file_of ldirectord.cf)
rm -f "$PF"
on_exit "rm -f '$PF'"
# if anything is left running, stop it by its pid file
on_exit "[ -s '$PF' ] && kill \$(head -1 '$PF') 2>/dev/null"
write_cf_http <<CF
virtual=$V
	real=$R1 masq
	real=$R2 masq
	scheduler=rr
CF

ns $NS_DIR ocf-tester -v -n ld -o "ldirectord=$KT_BIN" -o "configfile=$CFG" "$AGENT" \
	>"$ART/ocf-tester.txt" 2>&1 </dev/null
rc=$?
note "ocf-tester exit $rc: $(grep -E '^\*|passed|failed' "$ART/ocf-tester.txt" | tr '\n' '|')"
[ $rc = 0 ] || fail "ocf-tester failed (exit $rc): $(grep -E '^\* rc=|failed' "$ART/ocf-tester.txt" | head -5 | tr '\n' '|')"
grep -q "passed all tests" "$ART/ocf-tester.txt" || fail "ocf-tester did not say 'passed all tests'"
[ -e "$PF" ] && fail "ocf-tester's last stop left the pid file $PF"
pgrep -f "$KT_BIN $CFG start" >/dev/null && fail "a director is still running after ocf-tester"
[ "$(log_count "Added virtual server: $V")" -ge 2 ] || fail "the director did not program the kernel at each start: $(grep -c . "$LOG") log lines"
assert_no_ipvs "^TCP  $(_re "$V") "

# the agent once more, by hand: start, serve, monitor, stop
agent() {
	ns $NS_DIR env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=ld OCF_RESKEY_ldirectord="$KT_BIN" \
		OCF_RESKEY_configfile="$CFG" "$AGENT" "$1" >>"$ART/agent.txt" 2>&1 </dev/null
}
agent start || fail "agent start: exit $? ($(tail -3 "$ART/agent.txt" | tr '\n' '|'))"
lsb_track "$PF"
wait_ipvs 30 "-> $(_re "$R1") +Masq +1 "
wait_ipvs 10 "-> $(_re "$R2") +Masq +1 "
out=$(hits 4 "http://$VIP/")
[ "$(count_of rs1 "$out")" = 2 ] && [ "$(count_of rs2 "$out")" = 2 ] || fail "VIP did not serve both reals: $(echo $out)"
agent monitor || fail "agent monitor of a running director: exit $?"
agent stop || fail "agent stop: exit $?"
agent monitor
rc=$?
[ $rc = 7 ] || fail "agent monitor after stop: exit $rc, expected 7 (OCF_NOT_RUNNING)"
alive "$LSB_PID" && fail "the director $LSB_PID still runs after the agent's stop"
assert_no_ipvs "^TCP  $(_re "$V") "
pass
