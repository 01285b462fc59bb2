#!/bin/bash
# cleanstop: with cleanstop=yes SIGTERM removes the managed virtual (and its reals) from the
# kernel, leaving a virtual it does not manage alone; with cleanstop=no the managed entries stay.
. "$(dirname "$0")/../lib.sh"
need_ipvs
director_needed
topo_nat 2
serve_reals 2
R1="$(rip 1):80"
R2="$(rip 2):80"
V="$VIP:80"
FOREIGN=10.99.0.200:80
ns $NS_DIR ipvsadm -A -t $FOREIGN -s rr || fail "ipvsadm -A foreign"

cf() {
	write_cf_http <<CF
cleanstop=$1
virtual=$V
	real=$R1 masq
	real=$R2 masq
	scheduler=rr
CF
}

for mode in yes no; do
	note "---- cleanstop=$mode"
	cf $mode
	topology_mode || : >"$LOG"
	reals_up "$V" rr masq "$R1=1" "$R2=1"
	snapshot "cleanstop-$mode-running"
	if topology_mode; then
		[ $mode = yes ] && ns $NS_DIR ipvsadm -D -t $V
	else
		director_stop TERM
		[ "$DIRECTOR_RC" = 0 ] || fail "cleanstop=$mode: exit code $DIRECTOR_RC after SIGTERM"
	fi
	snapshot "cleanstop-$mode-stopped"
	if [ $mode = yes ]; then
		assert_no_ipvs "^TCP  $V "
		assert_no_ipvs "-> $R1 "
		assert_no_ipvs "-> $R2 "
		assert_ipvs "^TCP  $FOREIGN rr"
		out=$(get "http://$VIP/" --max-time 2)
		[ -z "$out" ] || fail "VIP still answers after a clean stop: $out"
	else
		assert_ipvs "^TCP  $V rr"
		assert_ipvs "-> $R1 +Masq +1 "
		assert_ipvs "-> $R2 +Masq +1 "
		assert_ipvs "^TCP  $FOREIGN rr"
		out=$(hits 2 "http://$VIP/")
		[ "$(count_of ERR "$out")" = 0 ] || fail "cleanstop=no: VIP stopped serving: $(echo $out)"
	fi
done
pass
