#!/usr/bin/env bash
# The overload test: the director, the test backends and 16 busy-loop hogs
# on one CPU, at a load the director cannot check on time (10,000 reals at
# checkinterval 1 s, checktimeout 3 s; about 2,000 checks/s get done).
# Phase A, healthy reals only: zero deletions over two minutes including the
# start. Phase B, 10% of the reals hang: every one removed within 60 s (p99
# reported), and still no healthy real deleted. About 3.5 minutes after the
# build. Loopback addresses only (127.1.x.y:18080); it stops only what it
# started. Prints one OVERLOAD PASS or OVERLOAD FAIL line; exits non-zero on
# a fail. OVERLOAD_REALS and OVERLOAD_HOGS change the load.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p ldirectord-rs -p ldirectord-bench --bins
out=$(mktemp -d)
status=0
timeout 600 target/release/overload \
    --reals "${OVERLOAD_REALS:-10000}" --hogs "${OVERLOAD_HOGS:-16}" --phase-a 120 --hang-wait 60 --out "$out" || status=$?
if [ "$status" = 0 ]; then
    rm -rf "$out"
else
    echo "(config, director log and summary.json kept in $out)"
fi
exit "$status"
