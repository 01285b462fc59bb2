#!/bin/bash
# Runs inside the VM (booted by .ci/kernel.sh with virtme-ng): every scenario in
# tests/kernel/scenarios/ in name order, one at a time, each bounded by a timeout.
#
# usage: guest.sh RESULTS_DIR
# env:   KT_BIN (ldirectord-rs binary), KT_MODE (director|topology), KT_ONLY (regex on names),
#        KT_SCENARIO_TIMEOUT (s, default 150), KT_TRACE=1 (bash -x with timestamps in NAME.log)
# Writes RESULTS_DIR/NAME.result ("PASS NAME" / "FAIL NAME: why" / "SKIP NAME: why"),
# RESULTS_DIR/NAME.log (the scenario's stderr/stdout), RESULTS_DIR/NAME/ (artefacts) and
# RESULTS_DIR/summary.txt; exits 0 only when nothing failed.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

KT_RESULTS=${1:?usage: guest.sh RESULTS_DIR}
KT_DIR=$(cd "$(dirname "$0")" && pwd)
export KT_RESULTS KT_DIR
export KT_BIN=${KT_BIN:-$KT_DIR/../../target/release/ldirectord-rs}
export KT_MODE=${KT_MODE:-director}
export KT_TRACE=${KT_TRACE:-0}
KT_ONLY=${KT_ONLY:-.}
TMO=${KT_SCENARIO_TIMEOUT:-150}

mkdir -p "$KT_RESULTS" /tmp/kt
echo "guest: kernel $(uname -r), mode $KT_MODE, binary $KT_BIN" >&2

# The director's `run --ipvs netlink` exists? (Probed without touching IPVS.)
KT_DIRECTOR_OK=0
if [ -x "$KT_BIN" ] && "$KT_BIN" run --help 2>&1 | grep -q -- '--ipvs'; then
	KT_DIRECTOR_OK=1
fi
export KT_DIRECTOR_OK
echo "guest: director run available: $KT_DIRECTOR_OK" >&2

start=$(date +%s)
for s in "$KT_DIR"/scenarios/[0-9]*.sh; do
	name=$(basename "${s%.sh}")
	printf '%s\n' "$name" | grep -Eq -- "$KT_ONLY" || continue
	echo "guest: ---- $name" >&2
	# a scenario may ask for more time than the default with a "# kt-timeout: SECONDS" line
	tmo=$(sed -n 's/^# kt-timeout: *\([0-9][0-9]*\).*/\1/p' "$s" | head -1)
	tmo=${tmo:-$TMO}
	t0=$(date +%s)
	if [ "${KT_TRACE:-0}" = 1 ]; then
		# xtrace with timestamps, to see where the time goes
		SCEN=$name PS4='+ ${EPOCHREALTIME} ' timeout -k 5 "$tmo" bash -x "$s" >"$KT_RESULTS/$name.log" 2>&1 </dev/null
	else
		SCEN=$name timeout -k 5 "$tmo" bash "$s" >"$KT_RESULTS/$name.log" 2>&1 </dev/null
	fi
	rc=$?
	t1=$(date +%s)
	if [ ! -s "$KT_RESULTS/$name.result" ]; then
		if [ $rc = 124 ] || [ $rc = 137 ]; then
			echo "FAIL $name: timed out after ${tmo}s" >"$KT_RESULTS/$name.result"
		else
			echo "FAIL $name: exit code $rc without a result" >"$KT_RESULTS/$name.result"
		fi
	fi
	echo "guest: $(cat "$KT_RESULTS/$name.result") ($((t1 - t0))s)" >&2
	echo "$((t1 - t0))" >"$KT_RESULTS/$name.secs"
	# a scenario that died hard may have left namespaces behind: never carry them over
	for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^kt-'); do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$n" 2>/dev/null
	done
done

{
	for f in "$KT_RESULTS"/*.result; do
		[ -e "$f" ] && cat "$f"
	done
} >"$KT_RESULTS/summary.txt"
echo "guest: total $(($(date +%s) - start))s" >&2
if grep -q '^FAIL' "$KT_RESULTS/summary.txt"; then exit 1; fi
exit 0
