#!/bin/bash
# LVS-NAT, wrr with weights 3:1 (seed 000): ipvsadm shows the weights; the kernel's wrr is
# deterministic, so 40 requests give exactly 30 to the weight-3 real and 10 to the other.
. "$(dirname "$0")/../lib.sh"
need_ipvs
director_needed
topo_nat 2
serve kt-rs1 rs1 "$(rip 1)" 80
serve kt-rs2 rs2 "$(rip 2)" 80

write_cf <<CF
checktimeout=1
checkinterval=1
logfile="$LOG"
virtual=$VIP:80
	real=$(rip 1):80 masq 3
	real=$(rip 2):80 masq 1
	service=http
	scheduler=wrr
	checktype=negotiate
	request="check.html"
	receive="ok"
CF

two_reals_up $VIP wrr masq 3 1

out=$(hits 40 "http://$VIP/")
n1=$(count_of rs1 "$out")
n2=$(count_of rs2 "$out")
note "rs1=$n1 rs2=$n2"
[ "$n1" = 30 ] && [ "$n2" = 10 ] || fail "wrr 3:1 over 40 requests: expected 30/10, got rs1=$n1 rs2=$n2 ($(echo $out | tr ' ' ,))"
topology_mode || director_alive
pass
