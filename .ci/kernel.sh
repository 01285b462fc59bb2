#!/bin/bash
# Kernel test suite: proves ldirectord-rs programs a REAL Linux IPVS.
#
# The host kernel here has no IPVS, so this boots Debian's kernel (linux-image-amd64, with
# ip_vs as modules) under QEMU with virtme-ng, the host filesystem as the guest's root, and runs
# tests/kernel/guest.sh inside: every scenario in tests/kernel/scenarios/ in ONE boot.
#
# usage: bash .ci/kernel.sh [--topology] [--only REGEX] [--no-install] [--no-build]
#   --topology   scenarios program IPVS with ipvsadm themselves (validates the test topology
#                without the director)
#   --only RE    run only the scenarios whose name matches RE (grep -E)
# env: KT_VM_TIMEOUT (s, default 1500), KT_SCENARIO_TIMEOUT (s, default 150), KT_KVM=1 (use KVM),
#      KT_BIN (the binary to test; default target/release/ldirectord-rs),
#      KT_TRACE=1 (each scenario's log is a timestamped bash -x trace)
#
# Output: one line per scenario (PASS name / FAIL name: why / SKIP name: why), then
# "N skipped" and a last line "N passed, N failed". Exit 0 only if no scenario failed and every
# scenario produced a result. Results, logs and artefacts: target/kernel-results/.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

MODE=director
ONLY=.
INSTALL=1
BUILD=1
while [ $# -gt 0 ]; do
	case $1 in
	--topology) MODE=topology ;;
	--only) ONLY=$2; shift ;;
	--no-install) INSTALL=0 ;;
	--no-build) BUILD=0 ;;
	-h | --help) sed -n '2,18p' "$0"; exit 0 ;;
	*) echo "kernel.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

say() { echo "kernel.sh: $*" >&2; }

# ------------------------------------------------------------------ 1. install (idempotent)
PKGS=(qemu-system-x86 linux-image-amd64 busybox-static ipvsadm iproute2 curl python3 procps
	iptables openssl kmod util-linux libcap2-bin resource-agents libxml2-utils)
if [ "$INSTALL" = 1 ]; then
	missing=()
	for p in "${PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		say "installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get -o DPkg::Lock::Timeout=600 update -qq </dev/null
		apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
	fi
	if ! command -v vng >/dev/null 2>&1; then
		if ! python3 -m pip --version >/dev/null 2>&1; then
			say "installing python3-pip"
			export DEBIAN_FRONTEND=noninteractive
			apt-get -o DPkg::Lock::Timeout=600 update -qq </dev/null
			apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends python3-pip </dev/null >/dev/null
		fi
		say "installing virtme-ng (pip)"
		python3 -m pip install -q virtme-ng </dev/null ||
			python3 -m pip install -q --break-system-packages virtme-ng </dev/null
		hash -r
		# a user-site install puts vng in ~/.local/bin
		command -v vng >/dev/null 2>&1 || PATH=$PATH:$HOME/.local/bin
	fi
fi
command -v vng >/dev/null 2>&1 || { say "vng (virtme-ng) not found"; exit 2; }

# ------------------------------------------------------------------ 2. the kernel to boot
KERNEL=
for k in $(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V -r); do
	v=${k#/boot/vmlinuz-}
	if [ -d "/lib/modules/$v/kernel/net/netfilter/ipvs" ]; then
		KERNEL=$k
		break
	fi
done
[ -n "$KERNEL" ] || { say "no /boot/vmlinuz-* with IPVS modules (install linux-image-amd64)"; exit 2; }
say "kernel $KERNEL"

# ------------------------------------------------------------------ 3. build
if [ "$BUILD" = 1 ]; then
	say "cargo build --release --bin ldirectord-rs"
	cargo build --release --bin ldirectord-rs </dev/null
fi
BIN=${KT_BIN:-$REPO/target/release/ldirectord-rs}
[ -x "$BIN" ] || { say "no binary at $BIN"; exit 2; }

# ------------------------------------------------------------------ 4. one VM, all scenarios
RES=$REPO/target/kernel-results
rm -rf "$RES"
mkdir -p "$RES"

VM_TIMEOUT=${KT_VM_TIMEOUT:-1500}
KVM_FLAG=--disable-kvm
[ "${KT_KVM:-0}" = 1 ] && KVM_FLAG=
q() { printf '%q' "$1"; }
GUEST_CMD="KT_MODE=$(q "$MODE") KT_ONLY=$(q "$ONLY") KT_BIN=$(q "$BIN")"
GUEST_CMD+=" KT_SCENARIO_TIMEOUT=$(q "${KT_SCENARIO_TIMEOUT:-150}") KT_TRACE=$(q "${KT_TRACE:-0}")"
GUEST_CMD+=" bash $(q "$REPO/tests/kernel/guest.sh") $(q "$RES")"

VNG_PID=
cleanup() {
	if [ -n "$VNG_PID" ] && kill -0 "$VNG_PID" 2>/dev/null; then
		say "stopping the VM (process group $VNG_PID)"
		kill -TERM -- "-$VNG_PID" 2>/dev/null || true
		sleep 2
		kill -KILL -- "-$VNG_PID" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "booting the VM (mode $MODE, timeout ${VM_TIMEOUT}s)"
t0=$(date +%s)
# its own process group (setsid), so a timeout can stop vng, qemu and all their children;
# stdin closed, no terminal needed (verified: vng --exec works without a tty)
# shellcheck disable=SC2086
setsid vng --run "$KERNEL" $KVM_FLAG --force-9p --cpus 2 --memory 1G \
	--rwdir "$RES" --exec "$GUEST_CMD" </dev/null >"$RES/vm-console.log" 2>&1 &
VNG_PID=$!
tail -n +1 -f "$RES/vm-console.log" --pid "$VNG_PID" >&2 &
TAIL_PID=$!
vm_rc=
while :; do
	if ! kill -0 "$VNG_PID" 2>/dev/null; then
		set +e
		wait "$VNG_PID"
		vm_rc=$?
		set -e
		break
	fi
	if [ $(($(date +%s) - t0)) -ge "$VM_TIMEOUT" ]; then
		say "VM did not finish within ${VM_TIMEOUT}s"
		cleanup
		vm_rc=124
		break
	fi
	sleep 2
done
VNG_PID=
sleep 0.5
kill "$TAIL_PID" 2>/dev/null || true
wait "$TAIL_PID" 2>/dev/null || true
say "VM finished (exit $vm_rc) in $(($(date +%s) - t0))s"

# ------------------------------------------------------------------ 5. summary
echo
echo "==== kernel scenarios ($MODE mode, $(basename "$KERNEL")) ===="
passed=0
failed=0
skipped=0
for s in "$REPO"/tests/kernel/scenarios/[0-9]*.sh; do
	name=$(basename "${s%.sh}")
	printf '%s\n' "$name" | grep -Eq -- "$ONLY" || continue
	if [ -s "$RES/$name.result" ]; then
		line=$(head -1 "$RES/$name.result")
	else
		line="FAIL $name: no result (VM exit $vm_rc; see target/kernel-results/vm-console.log)"
	fi
	secs=$(cat "$RES/$name.secs" 2>/dev/null || echo '?')
	echo "$line  [${secs}s]"
	case $line in
	PASS*) passed=$((passed + 1)) ;;
	SKIP*) skipped=$((skipped + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
done
echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$((passed + skipped))" -gt 0 ]
