#!/bin/bash
# `run` without the ip_vs module loaded: one-line "IPVS not available" error and a non-zero exit
# code distinct from a config error (2). Must run FIRST, before any scenario loads ip_vs.
# (ipvsadm is not used here: it would modprobe ip_vs by itself.)
. "$(dirname "$0")/../lib.sh"

if grep -q '^ip_vs ' /proc/modules; then
	skip "ip_vs is already loaded in this VM (this scenario must run first)"
fi
[ -e /proc/net/ip_vs ] && skip "/proc/net/ip_vs exists: IPVS is built in, cannot test its absence"
need_modules veth
_netns_add "$NS_DIR"

write_cf <<CF
checktimeout=1
checkinterval=1
logfile="$LOG"
virtual=$VIP:80
	real=$(rip 1):80 masq
	scheduler=rr
	checktype=on
CF

if topology_mode; then
	# nothing to program: just prove the module really is absent
	grep -q '^ip_vs ' /proc/modules && fail "ip_vs loaded"
	pass
fi
director_needed

ip netns exec "$NS_DIR" timeout -k 2 30 "$KT_BIN" -f "$CFG" run --ipvs netlink \
	>"$WORK/stdout" 2>"$WORK/stderr" </dev/null
rc=$?
cp "$WORK/stdout" "$WORK/stderr" "$ART/"
note "exit code $rc; stderr: $(cat "$WORK/stderr")"
[ $rc = 124 ] || [ $rc = 137 ] && fail "run did not exit within 30 s without ip_vs"
[ $rc = 0 ] && fail "run exited 0 without ip_vs"
[ $rc = 2 ] && fail "exit code 2 is the config-error code; IPVS-not-available needs its own"
lines=$(grep -c . "$WORK/stderr")
[ "$lines" = 1 ] || fail "expected exactly one line on stderr, got $lines: $(tr '\n' '|' <"$WORK/stderr")"
grep -q 'IPVS not available' "$WORK/stderr" || fail "stderr lacks 'IPVS not available': $(cat "$WORK/stderr")"
grep -qi 'panick' "$WORK/stderr" && fail "panic"
grep -q '^ip_vs ' /proc/modules && fail "ip_vs got loaded by the director (expected it to report, not load)"
echo "exit code $rc" >"$ART/exit-code"
pass
