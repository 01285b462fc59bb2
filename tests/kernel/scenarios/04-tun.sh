#!/bin/bash
# LVS-TUN (ipip, seed 001): the VIP is on the reals' tunl0 (rp_filter off, arp_ignore); the
# director encapsulates. Asserts: ipvsadm shows Tunnel; the client alternates rs1/rs2; the
# reals' tunl0 received packets (decapsulated IPIP).
. "$(dirname "$0")/../lib.sh"
need_ipvs
need_modules ipip
director_needed
topo_lan 2 tun
serve kt-rs1 rs1 0.0.0.0 80
serve kt-rs2 rs2 0.0.0.0 80

write_cf <<CF
checktimeout=1
checkinterval=1
logfile="$LOG"
virtual=$LAN_VIP:80
	real=$(rip 1):80 ipip
	real=$(rip 2):80 ipip
	service=http
	scheduler=rr
	checktype=negotiate
	request="check.html"
	receive="ok"
CF

two_reals_up $LAN_VIP rr ipip 1 1

out=$(hits 6 "http://$LAN_VIP/")
note "answers: $(echo $out)"
[ "$(count_of rs1 "$out")" = 3 ] && [ "$(count_of rs2 "$out")" = 3 ] ||
	fail "TUN rr over 6 requests: expected 3+3, got: $(echo $out)"
for i in 1 2; do
	pk=$(ip netns exec kt-rs$i cat /sys/class/net/tunl0/statistics/rx_packets)
	[ "${pk:-0}" -gt 0 ] || fail "kt-rs$i tunl0 received no packets (rx_packets=$pk): not tunnelled"
done
topology_mode || director_alive
pass
