#!/bin/bash
# sh (source hashing) scheduler: every request from one client address lands on the same real;
# six client addresses x 4 requests; across them both reals are used (the hash is
# deterministic, so this is a fixed outcome, not chance).
. "$(dirname "$0")/../lib.sh"
need_ipvs
director_needed
topo_nat 2
serve_reals 2
SRCS="10.99.0.2 10.99.0.3 10.99.0.4 10.99.0.5 10.99.0.6 10.99.0.7"
for a in $SRCS; do
	[ $a = $CIP ] || echo "addr add $a/24 dev eth0"
done | ipb $NS_C

write_cf_http <<CF
virtual=$VIP:80
	real=$(rip 1):80 masq
	real=$(rip 2):80 masq
	scheduler=sh
CF

reals_up $VIP:80 sh masq "$(rip 1):80=1" "$(rip 2):80=1"

seen=
for a in $SRCS; do
	out=$(hits 4 "http://$VIP/" --interface $a)
	first=$(printf '%s\n' "$out" | head -1)
	note "from $a: $(echo $out)"
	[ "$(count_of "$first" "$out")" = 4 ] && [ "$first" != ERR ] ||
		fail "sh: client $a was not sticky: $(echo $out)"
	seen="$seen $first"
done
echo "$seen" | grep -qw rs1 && echo "$seen" | grep -qw rs2 ||
	fail "sh: all client addresses hashed to one real ($seen)"
pass
