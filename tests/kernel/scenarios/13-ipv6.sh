#!/bin/bash
# IPv6 service: virtual6=[fd00:99::100]:80 with real6 reals (NAT) in their own netns; ipvsadm -Ln
# shows the IPv6 virtual and reals; the client alternates rs1/rs2 over IPv6; the log names them.
. "$(dirname "$0")/../lib.sh"
need_ipvs
director_needed
topo_nat 2
serve kt-rs1 rs1 "$(rip6 1)" 80
serve kt-rs2 rs2 "$(rip6 2)" 80
R1="[$(rip6 1)]:80"
R2="[$(rip6 2)]:80"
V="[$VIP6]:80"

write_cf <<CF
checktimeout=1
checkinterval=1
logfile="$LOG"
virtual6=$V
	real6=$R1 masq
	real6=$R2 masq
	service=http
	scheduler=rr
	checktype=negotiate
	request="check.html"
	receive="ok"
CF

if topology_mode; then
	ns $NS_DIR ipvsadm -A -t $V -s rr || fail "ipvsadm -A"
	ns $NS_DIR ipvsadm -a -t $V -r $R1 -m -w 1 || fail "ipvsadm -a rs1"
	ns $NS_DIR ipvsadm -a -t $V -r $R2 -m -w 1 || fail "ipvsadm -a rs2"
else
	director_start
	wait_log 30 "Added real server: $R1 ($V) (Weight set to 1)"
	wait_log 10 "Added real server: $R2 ($V) (Weight set to 1)"
fi
wait_ipvs 10 "^TCP  \[$VIP6\]:80 rr"
wait_ipvs 10 "-> \[$(rip6 1)\]:80 +Masq +1 "
wait_ipvs 10 "-> \[$(rip6 2)\]:80 +Masq +1 "
snapshot up
out=$(hits 4 "http://[$VIP6]/")
note "answers: $(echo $out)"
[ "$(count_of rs1 "$out")" = 2 ] && [ "$(count_of rs2 "$out")" = 2 ] ||
	fail "IPv6 rr over 4 requests: expected 2+2, got: $(echo $out)"
topology_mode || director_alive
pass
