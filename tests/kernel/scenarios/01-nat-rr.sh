#!/bin/bash
# LVS-NAT (masq), rr, two reals in their own netns (seed 002): the director adds the virtual and
# both reals; ipvsadm -Ln shows them as Masq weight 1; the client alternates rs1/rs2 via the VIP.
. "$(dirname "$0")/../lib.sh"
need_ipvs
director_needed
topo_nat 2
serve_reals 2

write_cf_http <<CF
quiescent=no
virtual=$VIP:80
	real=$(rip 1):80 masq
	real=$(rip 2):80 masq
	scheduler=rr
	protocol=tcp
CF

reals_up $VIP:80 rr masq "$(rip 1):80=1" "$(rip 2):80=1"
topology_mode || director_alive

out=$(hits 6 "http://$VIP/")
note "answers: $(echo $out)"
[ "$(count_of rs1 "$out")" = 3 ] && [ "$(count_of rs2 "$out")" = 3 ] ||
	fail "rr over 6 requests: expected 3 rs1 + 3 rs2, got: $(echo $out)"
prev=
for a in $out; do
	[ "$a" = "$prev" ] && fail "rr did not alternate: $(echo $out)"
	prev=$a
done
topology_mode || assert_no_log "Deleted real server"
pass
