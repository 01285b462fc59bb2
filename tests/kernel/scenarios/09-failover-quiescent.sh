#!/bin/bash
# The same failover with quiescent=yes: a failed real stays in ipvsadm -Ln with weight 0
# ("Quiescent real server ... (Weight set to 0)") and gets no new connections; with both at 0
# the fallback is added and answers; when rs1's check passes again it is restored to its weight
# ("Restored real server") and the fallback is deleted. Failure is made by /check.html
# answering 404 (the server keeps running).
. "$(dirname "$0")/../lib.sh"
need_ipvs
director_needed
topo_nat 2 sorry
serve_reals 2
serve kt-sorry sorry $SORRY_IP 80
R1="$(rip 1):80"
R2="$(rip 2):80"
V="$VIP:80"

write_cf_http <<CF
quiescent=yes
virtual=$V
	real=$R1 masq 2
	real=$R2 masq 1
	fallback=$SORRY_IP:80 masq
	scheduler=wrr
CF

step() {
	topology_mode || return 0
	case $1 in
	rs1-down) ns $NS_DIR ipvsadm -e -t $V -r $R1 -m -w 0 ;;
	rs2-down) ns $NS_DIR ipvsadm -e -t $V -r $R2 -m -w 0 && ns $NS_DIR ipvsadm -a -t $V -r $SORRY_IP:80 -m ;;
	rs1-up) ns $NS_DIR ipvsadm -e -t $V -r $R1 -m -w 2 && ns $NS_DIR ipvsadm -d -t $V -r $SORRY_IP:80 ;;
	esac || fail "ipvsadm ($1)"
}

reals_up "$V" wrr masq "$R1=2" "$R2=1"

note "rs1's check now answers 404"
server_down rs1 80
step rs1-down
topology_mode || wait_log 15 "Quiescent real server: $R1 ($V) (Weight set to 0)"
wait_ipvs 10 "-> $R1 +Masq +0 "
assert_ipvs "-> $R2 +Masq +1 "
assert_no_ipvs "-> $SORRY_IP:80"
snapshot 2-rs1-quiescent
out=$(hits 4 "http://$VIP/")
[ "$(count_of rs2 "$out")" = 4 ] || fail "rs1 quiescent: expected only rs2, got: $(echo $out)"

note "rs2's check now answers 404"
server_down rs2 80
step rs2-down
if ! topology_mode; then
	wait_log 15 "Quiescent real server: $R2 ($V) (Weight set to 0)"
	wait_log 10 "Added fallback server: $SORRY_IP:80 ($V)"
fi
wait_ipvs 10 "-> $R2 +Masq +0 "
wait_ipvs 10 "-> $SORRY_IP:80 +Masq +1 "
assert_ipvs "-> $R1 +Masq +0 "
snapshot 3-all-quiescent
out=$(hits 3 "http://$VIP/")
[ "$(count_of sorry "$out")" = 3 ] || fail "all quiescent: expected the sorry server, got: $(echo $out)"

note "rs1's check passes again"
server_up rs1 80
step rs1-up
if ! topology_mode; then
	wait_log 15 "Restored real server: $R1 ($V) (Weight set to 2)"
	wait_log 10 "Deleted fallback server: $SORRY_IP:80 ($V)"
	assert_no_log "Deleted real server"
fi
wait_ipvs 10 "-> $R1 +Masq +2 "
wait_ipvs_gone 10 "-> $SORRY_IP:80"
assert_ipvs "-> $R2 +Masq +0 "
snapshot 4-rs1-restored
out=$(hits 3 "http://$VIP/")
[ "$(count_of rs1 "$out")" = 3 ] || fail "rs1 restored: expected only rs1, got: $(echo $out)"
pass
