#!/bin/bash
# IPv6 service: virtual6=[fd00:99::100]:80 with real6 reals (NAT) in their own netns; ipvsadm -Ln
# shows the IPv6 virtual and reals; the client alternates rs1/rs2 over IPv6; the log names them.
. "$(dirname "$0")/../lib.sh"
need_ipvs
director_needed
topo_nat 2
serve_reals 2 v6
R1="[$(rip6 1)]:80"
R2="[$(rip6 2)]:80"
V="[$VIP6]:80"

write_cf_http <<CF
virtual6=$V
	real6=$R1 masq
	real6=$R2 masq
	scheduler=rr
CF

reals_up "$V" rr masq "$R1=1" "$R2=1"
out=$(hits 4 "http://[$VIP6]/")
note "answers: $(echo $out)"
[ "$(count_of rs1 "$out")" = 2 ] && [ "$(count_of rs2 "$out")" = 2 ] ||
	fail "IPv6 rr over 4 requests: expected 2+2, got: $(echo $out)"
pass
