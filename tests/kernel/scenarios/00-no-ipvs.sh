#!/bin/bash
# `run` on a kernel where IPVS cannot be had: one-line "IPVS not available" error and a non-zero
# exit code distinct from a config error (2).
# Debian's kernel autoloads ip_vs when the "IPVS" genl family is looked up (module alias
# net-pf-16-proto-16-family-IPVS), so "no IPVS" is simulated for the director only: the
# kernel's module loader is pointed at /bin/false (kernel.modprobe) and, in the director's own
# mount namespace, the ipvs modules directory is hidden (an explicit modprobe finds nothing).
# Runs first, before anything loads ip_vs; ipvsadm is not used until the end (it modprobes).
. "$(dirname "$0")/../lib.sh"

if [ -d /sys/module/ip_vs ]; then
	skip "ip_vs is already loaded in this VM (this scenario must run first)"
fi
[ -e /proc/net/ip_vs ] && skip "/proc/net/ip_vs exists: IPVS is built in, cannot test its absence"
need_modules veth
_netns_add "$NS_DIR"

write_cf <<CF
virtual=$VIP:80
	real=$(rip 1):80 masq
	scheduler=rr
	checktype=on
CF

if topology_mode; then
	[ -d /sys/module/ip_vs ] && fail "ip_vs loaded"
	pass
fi
director_needed

MODPROBE_WAS=$(cat /proc/sys/kernel/modprobe)
on_exit "echo '$MODPROBE_WAS' >/proc/sys/kernel/modprobe"
echo /bin/false >/proc/sys/kernel/modprobe || skip "cannot set kernel.modprobe"
IPVSMOD=/lib/modules/$(uname -r)/kernel/net/netfilter/ipvs
mkdir -p "$WORK/empty"

# exits in time, non-zero, one error line (warnings, e.g. about resource limits, aside)
director_fails "without IPVS" \
	unshare -m sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' sh "$WORK/empty" "$IPVSMOD" \
	ip netns exec "$NS_DIR"
echo "$MODPROBE_WAS" >/proc/sys/kernel/modprobe
[ $RUN_RC = 2 ] && fail "exit code 2 is the config-error code; IPVS-not-available needs its own"
grep -q 'IPVS not available' "$WORK/errors" || fail "stderr lacks 'IPVS not available': $(cat "$WORK/stderr")"
[ -d /sys/module/ip_vs ] && fail "ip_vs got loaded although it was made unavailable"
pass
