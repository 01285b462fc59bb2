#!/bin/bash
# Without CAP_NET_ADMIN (root, but the capability dropped from the bounding set with setpriv):
# `run` exits non-zero with ONE line naming the permission problem, and programs nothing.
. "$(dirname "$0")/../lib.sh"
need_ipvs
command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
director_needed
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

# the tool itself: really no CAP_NET_ADMIN under setpriv
ip netns exec $NS_DIR setpriv --inh-caps=-all --bounding-set=-net_admin -- ipvsadm -A -t $VIP:80 -s rr \
	>"$WORK/ipvsadm.out" 2>&1 && fail "ipvsadm could add a service without CAP_NET_ADMIN?"
assert_no_ipvs "^TCP"
topology_mode && pass

ip netns exec $NS_DIR setpriv --inh-caps=-all --bounding-set=-net_admin -- \
	timeout -k 2 30 "$KT_BIN" -f "$CFG" run --ipvs netlink >"$WORK/stdout" 2>"$WORK/stderr" </dev/null
rc=$?
cp "$WORK/stdout" "$WORK/stderr" "$ART/"
note "exit code $rc; stderr: $(cat "$WORK/stderr")"
[ $rc = 124 ] || [ $rc = 137 ] && fail "run did not exit within 30 s without CAP_NET_ADMIN"
[ $rc = 0 ] && fail "run exited 0 without CAP_NET_ADMIN"
# the error itself is one line (warnings, e.g. about resource limits, are separate lines)
grep -v -e '^$' -e 'warning:' "$WORK/stderr" >"$WORK/errors"
lines=$(grep -c . "$WORK/errors")
[ "$lines" = 1 ] || fail "expected exactly one error line on stderr, got $lines: $(tr '\n' '|' <"$WORK/stderr")"
grep -Eqi 'permission|not permitted|CAP_NET_ADMIN|EPERM' "$WORK/errors" ||
	fail "stderr does not name the permission problem: $(cat "$WORK/stderr")"
grep -q 'IPVS not available' "$WORK/stderr" && fail "EPERM reported as 'IPVS not available'"
assert_no_ipvs "^TCP"
echo "exit code $rc" >"$ART/exit-code"
pass
