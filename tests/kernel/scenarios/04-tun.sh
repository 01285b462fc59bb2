#!/bin/bash
# LVS-TUN (ipip, seed 001): the VIP is on the reals' tunl0 (rp_filter off, arp_ignore); the
# director encapsulates. Asserts: ipvsadm shows Tunnel; the client alternates rs1/rs2; the
# reals' tunl0 received packets (decapsulated IPIP).
. "$(dirname "$0")/../lib.sh"
need_ipvs
need_modules ipip
director_needed
topo_lan 2 tun
serve_reals 2 any

write_cf_http <<CF
virtual=$LAN_VIP:80
	real=$(rip 1):80 ipip
	real=$(rip 2):80 ipip
	scheduler=rr
CF

reals_up $LAN_VIP:80 rr ipip "$(rip 1):80=1" "$(rip 2):80=1"

out=$(hits 6 "http://$LAN_VIP/")
note "answers: $(echo $out)"
[ "$(count_of rs1 "$out")" = 3 ] && [ "$(count_of rs2 "$out")" = 3 ] ||
	fail "TUN rr over 6 requests: expected 3+3, got: $(echo $out)"
for i in 1 2; do
	pk=$(ip netns exec kt-rs$i cat /sys/class/net/tunl0/statistics/rx_packets)
	[ "${pk:-0}" -gt 0 ] || fail "kt-rs$i tunl0 received no packets (rx_packets=$pk): not tunnelled"
done
pass
