#!/bin/bash
# Port 443 with an https check (seed 000: 443): rs1 serves HTTPS (self-signed cert made here by
# openssl); rs2 listens on 443 but speaks plain HTTP, so its https check must fail and it must
# never enter the table. The client (curl -k https://VIP/) only ever reaches rs1.
. "$(dirname "$0")/../lib.sh"
need_ipvs
director_needed
topo_nat 2
serve kt-rs1 rs1 "$(rip 1)" 443 https
serve kt-rs2 rs2 "$(rip 2)" 443

write_cf_http <<CF
checktimeout=2
virtual=$VIP:443
	real=$(rip 1):443 masq
	real=$(rip 2):443 masq
	service=https
	scheduler=rr
CF

# rs2 fails its check: only rs1 comes up
reals_up $VIP:443 rr masq "$(rip 1):443=1"
if topology_mode; then
	# sanity of the topology: rs2 really is not HTTPS
	ns $NS_C curl -sk --max-time 3 "https://$(rip 2):443/" >/dev/null && fail "rs2 answers HTTPS?"
	ns $NS_C curl -s --max-time 3 "http://$(rip 2):443/" | grep -q rs2 || fail "rs2 plain http on 443 not reachable"
fi
# give rs2's (failing) checks several intervals
nap 4
assert_no_ipvs "-> $(rip 2):443"
out=$(hits 4 "https://$VIP/")
note "answers: $(echo $out)"
[ "$(count_of rs1 "$out")" = 4 ] || fail "https via VIP: expected 4x rs1, got: $(echo $out)"
topology_mode || assert_no_log "Added real server: $(rip 2):443"
pass
