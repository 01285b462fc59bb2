#!/bin/bash
# VM benchmarks (by hand, not CI): boots Debian's 6.1 kernel (IPVS as modules) under QEMU with
# virtme-ng, the host filesystem as the guest's root, and runs bench/vm/guest.sh inside: task A
# (table install/edit: netlink vs ipvsadm, director fill and reload) and task B (ldirectord-rs vs
# keepalived's checker, one at a time, each in its own network namespace). See bench/vm/RESULTS.md.
#
# usage: bash bench/vm/run.sh [--no-build] [--kvm]
# env:   LDIRECTORD_RS_PROBE_RUNTIME (passed to the director in the guest), VB_TASKS, VB_SIZES, VB_DAEMONS, VB_REPS, VB_STEADY, VB_HANG, VB_TABLE_ARGS, VB_ROUNDS,
#        VB_WINDOW, VB_FILL_MAX, VB_DETECT_MAX (see guest.sh; windows and caps per size too),
#        VB_OUT (results directory, default target/vm-bench; emptied first),
#        VB_VM_TIMEOUT (s, default 4200), VB_MEMORY (default 2G), VB_CPUS (default 2)
# Output: target/vm-bench/ (summary.md, summary.json, per-run JSON and logs, vm-console.log).
# Task B at 100, 1,000 and 10,000 reals (~20 min on a quiet 2-core host, every phase capped):
#   VB_TASKS="compare interleave" VB_SIZES="100 1000 10000" bash bench/vm/run.sh
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
BUILD=1
KVM=--disable-kvm
for a in "$@"; do
	case $a in
	--no-build) BUILD=0 ;;
	--kvm) KVM= ;;
	-h | --help) sed -n '2,14p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument $a" >&2; exit 2 ;;
	esac
done
say() { echo "run.sh: $*" >&2; }

need=()
for p in qemu-system-x86 linux-image-amd64 ipvsadm keepalived iproute2 strace python3 procps; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	say "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq </dev/null
	apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null >/dev/null
fi
# the Debian package's service must not run on the host: we only use the binary
command -v vng >/dev/null 2>&1 || python3 -m pip install -q virtme-ng </dev/null

KERNEL=
for k in $(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V -r); do
	v=${k#/boot/vmlinuz-}
	if [ -d "/lib/modules/$v/kernel/net/netfilter/ipvs" ]; then KERNEL=$k; break; fi
done
[ -n "$KERNEL" ] || { say "no /boot/vmlinuz-* with IPVS modules (apt-get install linux-image-amd64)"; exit 2; }

if [ "$BUILD" = 1 ]; then
	say "building release binaries (profile profiling: release with symbols, for perf)"
	cargo build --profile profiling --bin ldirectord-rs --example netlink_bench </dev/null
	cargo build --profile profiling -p ldirectord-bench --bin backends </dev/null
fi
for b in target/profiling/ldirectord-rs target/profiling/examples/netlink_bench target/profiling/backends; do
	[ -x "$b" ] || { say "missing $b"; exit 2; }
done

RES=${VB_OUT:-$REPO/target/vm-bench}
rm -rf "$RES"
mkdir -p "$RES"
{
	echo "host_nproc=$(nproc)"
	echo "host_cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "host_kernel=$(uname -r)"
	echo "vm_kernel_image=$KERNEL"
	echo "vm=vng --cpus ${VB_CPUS:-2} --memory ${VB_MEMORY:-2G} ${KVM:-kvm}"
	echo "git=$(git rev-parse --short HEAD 2>/dev/null) $(git status --porcelain 2>/dev/null | wc -l) files changed"
} >"$RES/host-info.txt"

q() { printf '%q' "$1"; }
CMD=""
for v in LDIRECTORD_RS_PROBE_RUNTIME VB_TASKS VB_SIZES VB_DAEMONS VB_REPS VB_STEADY VB_HANG VB_TABLE_ARGS VB_ROUNDS VB_WINDOW \
	VB_FILL_MAX VB_DETECT_MAX; do
	[ -n "${!v:-}" ] && CMD+="$v=$(q "${!v}") "
done
# a private copy of the binaries: other builds in this tree cannot swap them mid-run
mkdir -p "$RES/bin"
cp target/profiling/ldirectord-rs target/profiling/examples/netlink_bench target/profiling/backends "$RES/bin/"
(cd "$RES/bin" && ls -l --time-style=+%FT%T . && sha256sum ./*) >>"$RES/host-info.txt"
CMD+="LD_BIN=$(q "$RES/bin/ldirectord-rs") NB_BIN=$(q "$RES/bin/netlink_bench") BK_BIN=$(q "$RES/bin/backends") "
CMD+="bash $(q "$REPO/bench/vm/guest.sh") $(q "$RES")"

VNG_PID=
cleanup() {
	if [ -n "$VNG_PID" ] && kill -0 "$VNG_PID" 2>/dev/null; then
		kill -TERM -- "-$VNG_PID" 2>/dev/null || true
		sleep 2
		kill -KILL -- "-$VNG_PID" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say "booting $KERNEL ($KVM), results in $RES"
t0=$(date +%s)
# shellcheck disable=SC2086
setsid vng --run "$KERNEL" $KVM --force-9p --cpus "${VB_CPUS:-2}" --memory "${VB_MEMORY:-2G}" \
	--rwdir "$RES" --exec "$CMD" </dev/null >"$RES/vm-console.log" 2>&1 &
VNG_PID=$!
# host load while the VM runs (other work on the host slows the emulation and inflates the
# guest's CPU accounting): unix time, loadavg 1/5/15, the cpu line of /proc/stat
(while kill -0 "$VNG_PID" 2>/dev/null; do
	echo "$(date +%s) $(cut -d' ' -f1-3 /proc/loadavg) $(head -1 /proc/stat | cut -d' ' -f3-)"
	sleep 2
done) >"$RES/host-load.txt" 2>/dev/null &
tail -n +1 -f "$RES/vm-console.log" --pid "$VNG_PID" >&2 &
TAIL=$!
rc=
while :; do
	if ! kill -0 "$VNG_PID" 2>/dev/null; then
		set +e; wait "$VNG_PID"; rc=$?; set -e
		break
	fi
	if [ $(($(date +%s) - t0)) -ge "${VB_VM_TIMEOUT:-4200}" ]; then
		say "VM did not finish in ${VB_VM_TIMEOUT:-4200}s"
		cleanup
		rc=124
		break
	fi
	sleep 2
done
VNG_PID=
kill "$TAIL" 2>/dev/null || true
say "VM finished (exit $rc) in $(($(date +%s) - t0))s; summary: $RES/summary.md"
# the guest summarizes after each run; again here, so a VM stopped by VB_VM_TIMEOUT still
# leaves a summary of what finished (runs cut short are marked incomplete)
python3 bench/vm/bench.py summarize "$RES" >/dev/null 2>&1 || say "summarize failed"
# flat CPU profiles recorded in the guest (interleave), reported here where symbol lookup is fast
if command -v perf >/dev/null 2>&1; then
	for d in "$RES"/interleave-*/*/perf.data; do
		[ -f "$d" ] || continue
		KS=()
		[ -s "$RES/kallsyms.txt" ] && KS=(--kallsyms "$RES/kallsyms.txt")
		{
			perf report -i "$d" "${KS[@]}" --stdio --no-children --sort dso 2>/dev/null
			perf report -i "$d" "${KS[@]}" --stdio --no-children --sort dso,sym --percent-limit 0.5 2>/dev/null
		} >"${d%.data}-report.txt"
	done
fi
exit "$rc"
