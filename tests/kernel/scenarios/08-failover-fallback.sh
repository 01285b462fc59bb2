#!/bin/bash
# Failover with a sorry server (seed 002, end), quiescent=no:
#  rs1's server stops -> "Deleted real server", it leaves ipvsadm -Ln, clients reach only rs2;
#  rs2 stops too      -> the fallback (sorry, 10.99.1.99) is added and answers;
#  rs1 comes back     -> "Added real server" again, the fallback is deleted, rs1 answers.
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
quiescent=no
virtual=$V
	real=$R1 masq
	real=$R2 masq
	fallback=$SORRY_IP:80 masq
	scheduler=rr
CF

step() {
	# topology mode: program by hand what the director is expected to do
	topology_mode || return 0
	case $1 in
	rs1-down) ns $NS_DIR ipvsadm -d -t $V -r $R1 ;;
	rs2-down) ns $NS_DIR ipvsadm -d -t $V -r $R2 && ns $NS_DIR ipvsadm -a -t $V -r $SORRY_IP:80 -m ;;
	rs1-up) ns $NS_DIR ipvsadm -a -t $V -r $R1 -m && ns $NS_DIR ipvsadm -d -t $V -r $SORRY_IP:80 ;;
	esac || fail "ipvsadm ($1)"
}

reals_up "$V" rr masq "$R1=1" "$R2=1"
assert_no_ipvs "-> $SORRY_IP:80"
out=$(hits 4 "http://$VIP/")
[ "$(count_of rs1 "$out")" = 2 ] && [ "$(count_of rs2 "$out")" = 2 ] || fail "both up: $(echo $out)"

note "stopping rs1's server"
stop_server rs1 80
step rs1-down
topology_mode || wait_log 15 "Deleted real server: $R1 ($V)"
wait_ipvs_gone 10 "-> $R1 "
assert_ipvs "-> $R2 +Masq +1 "
assert_no_ipvs "-> $SORRY_IP:80"
snapshot 2-rs1-down
out=$(hits 4 "http://$VIP/")
[ "$(count_of rs2 "$out")" = 4 ] || fail "rs1 down: expected only rs2, got: $(echo $out)"

note "stopping rs2's server"
stop_server rs2 80
step rs2-down
if ! topology_mode; then
	wait_log 15 "Deleted real server: $R2 ($V)"
	wait_log 10 "Added fallback server: $SORRY_IP:80 ($V)"
fi
wait_ipvs_gone 10 "-> $R2 "
wait_ipvs 10 "-> $SORRY_IP:80 +Masq +1 "
snapshot 3-all-down
out=$(hits 3 "http://$VIP/")
[ "$(count_of sorry "$out")" = 3 ] || fail "all down: expected the sorry server, got: $(echo $out)"

note "restarting rs1's server"
serve kt-rs1 rs1 "$(rip 1)" 80
step rs1-up
if ! topology_mode; then
	wait_log 15 "Deleted fallback server: $SORRY_IP:80 ($V)"
	[ "$(log_count "Added real server: $R1 ($V)")" = 2 ] || fail "expected rs1 to be added a second time"
fi
wait_ipvs 10 "-> $R1 +Masq +1 "
wait_ipvs_gone 10 "-> $SORRY_IP:80"
snapshot 4-rs1-back
out=$(hits 3 "http://$VIP/")
[ "$(count_of rs1 "$out")" = 3 ] || fail "rs1 back: expected only rs1, got: $(echo $out)"
pass
