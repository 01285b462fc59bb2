#!/bin/bash
# Drift repair: with resyncinterval=2 the director compares the kernel table with what it wants.
# An operator's `ipvsadm -C` (table wiped), a hand-edited weight, and a stray real added by hand
# under the managed virtual are all repaired within a few seconds; a virtual the director does
# not manage (10.99.0.200:80, added by hand) is left alone.
. "$(dirname "$0")/../lib.sh"
need_ipvs
director_needed
topo_nat 2
serve kt-rs1 rs1 "$(rip 1)" 80
serve kt-rs2 rs2 "$(rip 2)" 80
R1="$(rip 1):80"
R2="$(rip 2):80"
V="$VIP:80"
FOREIGN=10.99.0.200:80

write_cf <<CF
checktimeout=1
checkinterval=1
resyncinterval=2
logfile="$LOG"
virtual=$V
	real=$R1 masq 2
	real=$R2 masq 1
	service=http
	scheduler=wrr
	checktype=negotiate
	request="check.html"
	receive="ok"
CF

program() {
	ns $NS_DIR ipvsadm -A -t $V -s wrr && ns $NS_DIR ipvsadm -a -t $V -r $R1 -m -w 2 &&
		ns $NS_DIR ipvsadm -a -t $V -r $R2 -m -w 1 || fail "ipvsadm"
}

if topology_mode; then
	program
else
	director_start
	wait_log 30 "Added real server: $R1 ($V) (Weight set to 2)"
	wait_log 10 "Added real server: $R2 ($V) (Weight set to 1)"
fi
wait_ipvs 10 "-> $R1 +Masq +2 "
wait_ipvs 10 "-> $R2 +Masq +1 "
snapshot 1-up

note "operator: ipvsadm -C"
ns $NS_DIR ipvsadm -C || fail "ipvsadm -C"
# (no "table is empty now" check: the repair can be faster than the next ipvsadm)
topology_mode && program
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
topology_mode || director_alive
pass
