#!/bin/bash
# fwmark service over ports 80 and 443 with persistence (seed 000/003: iptables MARK +
# ipvsadm -A -f 10 -p): iptables mangle PREROUTING marks VIP:80,443 with 10 in the director's
# netns; the director programs "FWM 10 rr persistent 60". One client address sticks to one real
# across both ports; a second client address (rr on a new template) gets the other real.
. "$(dirname "$0")/../lib.sh"
need_ipvs
need_modules nf_tables nft_compat xt_mark xt_multiport
command -v iptables >/dev/null || skip "iptables not installed"
director_needed
topo_nat 2
ip -n $NS_C addr add 10.99.0.3/24 dev eth0
for i in 1 2; do
	serve kt-rs$i rs$i "$(rip $i)" 80
	serve kt-rs$i rs$i "$(rip $i)" 443 https
done
ns $NS_DIR iptables -t mangle -A PREROUTING -d $VIP/32 -p tcp -m multiport --dports 80,443 \
	-j MARK --set-mark 10 || fail "iptables MARK rule"

write_cf_http <<CF
virtual=10
	real=$(rip 1) masq
	real=$(rip 2) masq
	checkport=80
	scheduler=rr
	persistent=60
	protocol=fwm
CF

if topology_mode; then
	ns $NS_DIR ipvsadm -A -f 10 -s rr -p 60 || fail "ipvsadm -A -f"
	ns $NS_DIR ipvsadm -a -f 10 -r "$(rip 1)" -m -w 1 || fail "ipvsadm -a rs1"
	ns $NS_DIR ipvsadm -a -f 10 -r "$(rip 2)" -m -w 1 || fail "ipvsadm -a rs2"
else
	director_start
fi
wait_ipvs 30 "^FWM  10 rr persistent 60"
wait_ipvs 30 "-> $(rip 1):0 +Masq +1 "
wait_ipvs 30 "-> $(rip 2):0 +Masq +1 "
snapshot up

a=$(hits 3 "http://$VIP/"; hits 3 "https://$VIP/")
b=$(hits 3 "http://$VIP/" --interface 10.99.0.3; hits 3 "https://$VIP/" --interface 10.99.0.3)
note "client .2: $(echo $a); client .3: $(echo $b)"
ra=$(printf '%s\n' "$a" | head -1)
rb=$(printf '%s\n' "$b" | head -1)
[ "$ra" != ERR ] && [ "$(count_of "$ra" "$a")" = 6 ] || fail "client 10.99.0.2 not persistent over 80+443: $(echo $a)"
[ "$rb" != ERR ] && [ "$(count_of "$rb" "$b")" = 6 ] || fail "client 10.99.0.3 not persistent over 80+443: $(echo $b)"
[ "$ra" != "$rb" ] || fail "both clients on $ra: rr across persistence templates expected the other real"
# both ports really went through the fwmark service (persistence template + connections)
ns $NS_DIR ipvsadm -Lnc >"$ART/conns.txt" 2>&1
grep -q "$VIP:443 " "$ART/conns.txt" && grep -q "$VIP:80 " "$ART/conns.txt" ||
	fail "ipvsadm -Lnc lacks connections to $VIP:80 and :443: $(tr '\n' '|' <"$ART/conns.txt")"
pass
