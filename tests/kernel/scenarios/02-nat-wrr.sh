#!/bin/bash
# LVS-NAT, wrr with weights 3:1 (seed 000): ipvsadm shows the weights; the kernel's wrr is
# deterministic, so 40 requests give exactly 30 to the weight-3 real and 10 to the other.
. "$(dirname "$0")/../lib.sh"
need_ipvs
director_needed
topo_nat 2
serve_reals 2

write_cf_http <<CF
virtual=$VIP:80
	real=$(rip 1):80 masq 3
	real=$(rip 2):80 masq 1
	scheduler=wrr
CF

reals_up $VIP:80 wrr masq "$(rip 1):80=3" "$(rip 2):80=1"

out=$(hits 40 "http://$VIP/")
n1=$(count_of rs1 "$out")
n2=$(count_of rs2 "$out")
note "rs1=$n1 rs2=$n2"
[ "$n1" = 30 ] && [ "$n2" = 10 ] || fail "wrr 3:1 over 40 requests: expected 30/10, got rs1=$n1 rs2=$n2 ($(echo $out | tr ' ' ,))"
pass
