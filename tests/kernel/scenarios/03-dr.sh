#!/bin/bash
# LVS-DR (gate), one L2 segment (seeds 000/003): the VIP is on the reals' lo with
# arp_ignore=1/arp_announce=2; the director forwards by MAC, replies go straight to the client.
# Asserts: ipvsadm shows Route; the client alternates rs1/rs2; the client's ARP entry for the
# VIP is the director's MAC (the reals stayed silent).
. "$(dirname "$0")/../lib.sh"
need_ipvs
director_needed
topo_lan 2 dr
serve_reals 2 any

write_cf_http <<CF
virtual=$LAN_VIP:80
	real=$(rip 1):80 gate
	real=$(rip 2):80 gate
	scheduler=rr
CF

reals_up $LAN_VIP:80 rr gate "$(rip 1):80=1" "$(rip 2):80=1"

out=$(hits 6 "http://$LAN_VIP/")
note "answers: $(echo $out)"
[ "$(count_of rs1 "$out")" = 3 ] && [ "$(count_of rs2 "$out")" = 3 ] ||
	fail "DR rr over 6 requests: expected 3+3, got: $(echo $out)"
dmac=$(ip -n $NS_DIR -o link show br1 | grep -o 'link/ether [0-9a-f:]*' | awk '{print $2}')
cmac=$(ip -n $NS_C neigh show $LAN_VIP | grep -o 'lladdr [0-9a-f:]*' | awk '{print $2}')
[ -n "$dmac" ] && [ "$dmac" = "$cmac" ] || fail "client's ARP entry for the VIP is '$cmac', director is '$dmac'"
pass
