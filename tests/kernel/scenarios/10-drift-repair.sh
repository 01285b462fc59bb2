#!/bin/bash
# Drift repair: with resyncinterval=2 the director compares the kernel table with what it wants.
# An operator's `ipvsadm -C` (table wiped), a hand-edited weight, and a stray real added by hand
# under the managed virtual are all repaired within a few seconds; a virtual the director does
# not manage (10.99.0.200:80, added by hand) is left alone.
. "$(dirname "$0")/../lib.sh"
need_ipvs
director_needed
topo_nat 2
serve_reals 2
R1="$(rip 1):80"
R2="$(rip 2):80"
V="$VIP:80"
FOREIGN=10.99.0.200:80

write_cf_http <<CF
resyncinterval=2
virtual=$V
	real=$R1 masq 2
	real=$R2 masq 1
	scheduler=wrr
CF

reals_up "$V" wrr masq "$R1=2" "$R2=1"

note "operator: ipvsadm -C"
ns $NS_DIR ipvsadm -C || fail "ipvsadm -C"
# (no "table is empty now" check: the repair can be faster than the next ipvsadm)
# topology mode: what the director is expected to do, by hand
if topology_mode; then
	ns $NS_DIR ipvsadm -A -t $V -s wrr && ns $NS_DIR ipvsadm -a -t $V -r $R1 -m -w 2 &&
		ns $NS_DIR ipvsadm -a -t $V -r $R2 -m -w 1 || fail "ipvsadm"
fi
# the director noticed and re-created the virtual (a second "Added virtual server")
topology_mode || wait_log_count 15 2 "Added virtual server: $V"
wait_ipvs 15 "^TCP  $V wrr"
wait_ipvs 10 "-> $R1 +Masq +2 "
wait_ipvs 10 "-> $R2 +Masq +1 "
snapshot 2-repaired-after-clear
out=$(hits 3 "http://$VIP/")
[ "$(count_of ERR "$out")" = 0 ] || fail "VIP not answering after the repair: $(echo $out)"

note "operator: weight of rs1 -> 7, stray real 10.99.1.50:80, foreign virtual $FOREIGN"
ns $NS_DIR ipvsadm -e -t $V -r $R1 -m -w 7 || fail "ipvsadm -e"
ns $NS_DIR ipvsadm -a -t $V -r 10.99.1.50:80 -m -w 1 || fail "ipvsadm -a stray"
ns $NS_DIR ipvsadm -A -t $FOREIGN -s rr || fail "ipvsadm -A foreign"
ns $NS_DIR ipvsadm -a -t $FOREIGN -r "$(rip 1):80" -m -w 1 || fail "ipvsadm -a foreign"
if topology_mode; then
	ns $NS_DIR ipvsadm -e -t $V -r $R1 -m -w 2 && ns $NS_DIR ipvsadm -d -t $V -r 10.99.1.50:80
fi
wait_ipvs 15 "-> $R1 +Masq +2 "
wait_ipvs_gone 15 "-> 10\.99\.1\.50:80"
assert_ipvs "-> $R2 +Masq +1 "
assert_ipvs "^TCP  $FOREIGN rr"
snapshot 3-repaired-after-edit
# the foreign virtual survives more resync rounds
nap 5
assert_ipvs "^TCP  $FOREIGN rr"
assert_ipvs "-> $R1 +Masq +2 "
pass
