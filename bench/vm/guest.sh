#!/bin/bash
# Runs inside the VM booted by bench/vm/run.sh (virtme-ng, Debian 6.1 kernel with IPVS modules,
# the host's filesystem as root). Every measurement happens in a network namespace made here
# (vb-*), so each IPVS table is private and starts empty.
#
# usage: guest.sh RESULTS_DIR
# env:   VB_TASKS    "table compare interleave" (default all three)
#        VB_SIZES    task B sizes (default "100 1000"; 10000 is far beyond 2 emulated CPUs for
#                    both daemons: every phase is capped, so it ends and reports what it saw)
#        VB_DAEMONS  task B daemons (default "keepalived ldirectord-rs")
#        VB_REPS     task A repetitions (default 3)
#        VB_TABLE_ARGS  extra task A options, e.g. "--services 10 --dests 1000 --edits 1000"
#        VB_STEADY, VB_HANG (task B windows, s; default 20 and 20, hang 40 from 5,000 reals:
#                    overloaded daemons take 15-25 s to remove hung reals there)
#        VB_ROUNDS, VB_WINDOW (interleaved CPU measurement: rounds, window s; default 4 and 5)
#        VB_FILL_MAX, VB_DETECT_MAX (caps, s, on the table fill at start and on the 503
#                    detection; default bench.py's: max(120, N*0.018) and 60)
#        Each of these six takes one value for every size or per size, e.g.
#        VB_HANG="20 10000:40" (40 s at 10,000 reals, 20 s otherwise).
#        Every bench.py run is bounded by `timeout` at the sum of its phases' caps
#        (bench.py ... --print-budget), so each size ends in bounded time.
#        LD_BIN, NB_BIN, BK_BIN (binaries; default target/release/...)
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C
RES=${1:?usage: guest.sh RESULTS_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export LD_BIN=${LD_BIN:-$REPO/target/release/ldirectord-rs}
export NB_BIN=${NB_BIN:-$REPO/target/release/examples/netlink_bench}
export BK_BIN=${BK_BIN:-$REPO/target/release/backends}
TASKS=${VB_TASKS:-table compare interleave}
SIZES=${VB_SIZES:-100 1000}
DAEMONS=${VB_DAEMONS:-keepalived ldirectord-rs}
PY=/usr/bin/python3
mkdir -p "$RES"

say() { echo "$(date +%H:%M:%S) guest: $*" >&2; }

# sized VALUE N DEFAULT: VALUE is "X" (every size) and/or "N:X" entries (that size), space- or
# comma-separated; the entry for N wins, then a plain X, then DEFAULT
sized() {
	local e plain= out=
	for e in ${1//,/ }; do
		case $e in
		"$2":*) out=${e#*:} ;;
		*:*) ;;
		*) plain=$e ;;
		esac
	done
	echo "${out:-${plain:-$3}}"
}
summarize() { $PY "$HERE/bench.py" summarize "$RES" >/dev/null 2>&1 || true; }

# the machine, for RESULTS.md
{
	echo "guest_kernel=$(uname -r)"
	echo "guest_nproc=$(nproc)"
	echo "guest_cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "guest_mem_kib=$(awk '/MemTotal/ {print $2}' /proc/meminfo)"
	echo "keepalived=$(keepalived --version 2>&1 | head -1)"
	echo "ipvsadm=$(ipvsadm --version 2>&1 | head -1)"
	echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$RES/guest-info.txt"

modprobe ip_vs && modprobe ip_vs_wrr && modprobe ip_vs_rr && modprobe ip_vs_wlc || {
	say "cannot load ip_vs"
	exit 2
}
# 10,000 reals: two backends with 10,000 listeners each (interleave), daemons with as many
# checks in flight
sysctl -qw fs.file-max=2000000 fs.nr_open=1048576 2>/dev/null
ulimit -n 200000 || ulimit -n 65536
say "RLIMIT_NOFILE $(ulimit -n), fs.file-max $(cat /proc/sys/fs/file-max)"
# many short connections on loopback: TIME_WAIT must not exhaust ports
sysctl -qw net.ipv4.ip_local_port_range="10000 65000" net.ipv4.tcp_tw_reuse=1 \
	net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096 2>/dev/null

NS=
cleanup_ns() {
	[ -n "$NS" ] || return 0
	for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	NS=
}
trap cleanup_ns EXIT

new_ns() {
	NS=$1
	ip netns add "$NS" && ip -n "$NS" link set lo up
	ip netns exec "$NS" sysctl -qw net.ipv4.ip_local_port_range="10000 65000" net.ipv4.tcp_tw_reuse=1 \
		net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096 2>/dev/null
}

rc=0
start=$(date +%s)
for task in $TASKS; do
	case $task in
	table)
		# task A makes a fresh namespace per measurement itself (vb-a-*): a table cleared
		# minutes before keeps its deleted destinations in the kernel's trash, and re-adding
		# them then costs a scan of that trash per destination
		say "task A: table install and edits"
		timeout -k 5 2400 $PY "$HERE/bench.py" table --out "$RES/table" \
			--reps "${VB_REPS:-3}" ${VB_TABLE_ARGS:-} 2>&1 | tee "$RES/table.log" >&2
		[ "${PIPESTATUS[0]}" = 0 ] || { say "task A failed"; rc=1; }
		for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^vb-a'); do
			for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
			ip netns del "$n" 2>/dev/null
		done
		;;
	compare)
		for n in $SIZES; do
			for d in $DAEMONS; do
				args=(compare --out "$RES/$d-$n" --daemon "$d" --n "$n"
					--steady "$(sized "${VB_STEADY:-}" "$n" 20)" --hang-window "$(sized "${VB_HANG:-}" "$n" "$([ "$n" -ge 5000 ] && echo 40 || echo 20)")"
					--fill-max "$(sized "${VB_FILL_MAX:-}" "$n" 0)" --detect-max "$(sized "${VB_DETECT_MAX:-}" "$n" 0)")
				lim=$($PY "$HERE/bench.py" "${args[@]}" --print-budget) || lim=900
				say "task B: $d with $n reals (bounded at ${lim}s)"
				new_ns "vb-b"
				t=$(date +%s)
				ip netns exec vb-b timeout -k 5 "$lim" $PY "$HERE/bench.py" "${args[@]}" \
					2>&1 | tee "$RES/$d-$n.log" >&2
				[ "${PIPESTATUS[0]}" = 0 ] || { say "task B $d $n failed"; rc=1; }
				say "task B: $d with $n reals took $(($(date +%s) - t))s"
				cleanup_ns
				summarize
			done
		done
		;;
	interleave)
		# for the host-side perf report (run.sh): the guest kernel's symbols
		cat /proc/kallsyms >"$RES/kallsyms.txt" 2>/dev/null
		for n in $SIZES; do
			args=(interleave --out "$RES/interleave-$n" --n "$n" --rounds "$(sized "${VB_ROUNDS:-}" "$n" 4)"
				--window "$(sized "${VB_WINDOW:-}" "$n" 5)" --fill-max "$(sized "${VB_FILL_MAX:-}" "$n" 0)")
			lim=$($PY "$HERE/bench.py" "${args[@]}" --print-budget) || lim=900
			say "task B (interleaved steady CPU): $n reals (bounded at ${lim}s)"
			t=$(date +%s)
			for ns in vb-k vb-r; do
				ip netns add $ns && ip -n $ns link set lo up
				ip netns exec $ns sysctl -qw net.ipv4.ip_local_port_range="10000 65000" \
					net.ipv4.tcp_tw_reuse=1 net.core.somaxconn=4096 2>/dev/null
			done
			timeout -k 5 "$lim" $PY "$HERE/bench.py" "${args[@]}" 2>&1 | tee "$RES/interleave-$n.log" >&2
			[ "${PIPESTATUS[0]}" = 0 ] || { say "interleave $n failed"; rc=1; }
			say "task B (interleaved): $n reals took $(($(date +%s) - t))s"
			for ns in vb-k vb-r; do
				for p in $(ip netns pids $ns 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
				ip netns del $ns 2>/dev/null
			done
			summarize
		done
		;;
	esac
done
$PY "$HERE/bench.py" summarize "$RES" >&2
say "total $(($(date +%s) - start))s"
exit $rc
