#!/usr/bin/env bash
# rust-version (Cargo.toml, [workspace.package]) must be what the lock file
# needs: not below the highest rust-version of any locked dependency. With
# --build, the workspace is also checked (tests included) with exactly that
# toolchain, installed by rustup when missing; when rustup cannot get it,
# that is said and only the scan counts.
#
# usage: bash .ci/msrv.sh [--build]
set -euo pipefail
cd "$(dirname "$0")/.."

declared=$(sed -n 's/^rust-version = "\([0-9.]*\)"$/\1/p' Cargo.toml | head -1)
[ -n "$declared" ] || { echo "msrv: no rust-version in Cargo.toml" >&2; exit 1; }
host=$(rustc -vV | sed -n 's/^host: //p')

# The highest rust-version over every package of the resolved (locked) graph.
cargo metadata --format-version 1 --locked --filter-platform "$host" |
	python3 -c '
import json, sys
declared = sys.argv[1]
def key(v):
    return tuple(int(x) for x in (v.split(".") + ["0", "0"])[:3])
m = json.load(sys.stdin)
deps = [(p.get("rust_version") or "0", p["name"], p["version"])
        for p in m["packages"] if p.get("source")]
top = max(deps, key=lambda d: key(d[0]))
print("msrv: rust-version %s declared; highest of %d locked dependencies: %s (%s %s)"
      % (declared, len(deps), top[0], top[1], top[2]))
if key(declared) < key(top[0]):
    sys.exit("msrv: rust-version %s is below what %s %s needs (%s)" % (declared, top[1], top[2], top[0]))
if key(declared) > key(top[0]):
    print("msrv: note: higher than the dependencies need; the code itself must need it (--build checks it builds)")
' "$declared"

if [ "${1:-}" = --build ]; then
	if ! rustup run "$declared" rustc --version >/dev/null 2>&1; then
		rustup toolchain install "$declared" --profile minimal >/dev/null 2>&1 || {
			echo "msrv: rustup cannot install $declared here: only the scan above was done"
			exit 0
		}
	fi
	echo "msrv: cargo +$declared check --workspace --all-targets --locked"
	CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}/msrv cargo "+$declared" check --workspace --all-targets --locked -q
	echo "msrv: builds with $declared"
fi
