#!/bin/bash
# Without CAP_NET_ADMIN (root, but the capability dropped from the bounding set with setpriv):
# `run` exits non-zero with ONE line naming the permission problem, and programs nothing.
. "$(dirname "$0")/../lib.sh"
need_ipvs
command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
director_needed
_netns_add "$NS_DIR"

write_cf <<CF
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

# exits in time, non-zero, one error line (warnings, e.g. about resource limits, aside)
director_fails "without CAP_NET_ADMIN" \
	ip netns exec $NS_DIR setpriv --inh-caps=-all --bounding-set=-net_admin --
grep -Eqi 'permission|not permitted|CAP_NET_ADMIN|EPERM' "$WORK/errors" ||
	fail "stderr does not name the permission problem: $(cat "$WORK/stderr")"
grep -q 'IPVS not available' "$WORK/stderr" && fail "EPERM reported as 'IPVS not available'"
assert_no_ipvs "^TCP"
pass
