#!/usr/bin/env bash
# End-to-end benchmark of reachd (issue 4), the entry point of `make bench`:
#
#   make bench                      # full scale: 1,000,000 messages (about 5-12 minutes on 2 cores)
#   BENCH_SCALE=0.05 make bench     # quick run: 50,000 messages (about 1-2 minutes)
#   bash scripts/bench.sh BUILD_DIR # the same without make (BUILD_DIR defaults to build)
#
# Other knobs: BENCH_WORKDIR=DIR (where the throwaway stores go; default BUILD_DIR/bench-run, on
# the same disk as the build), BENCH_KEEP=1 (keep logs and stores), BENCH_POSTFIX_RELAY=0 (skip the
# private postfix instance used for the e-mail relay ceiling; it needs root), BENCH_ONLY=postfix-relay
# (run only smtp-sink and that postfix relay ceiling, min(20,000, 100,000 x BENCH_SCALE) messages;
# e.g. BENCH_SCALE=0.03 BENCH_ONLY=postfix-relay make bench takes about 10 s).
#
# It starts reach-sim, postfix's smtp-sink and reachd on free loopback ports with a throwaway store
# and prints one table: figure | result | ceiling measured in the same run | ratio | target | met?
# Progress goes to stderr; the table to stdout. Details: scripts/bench.py.
set -euo pipefail
BUILD="${1:-build}"
cd "$(dirname "$0")/.."
for tool in wrk smtp-sink smtp-source; do
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
    echo "bench: $tool not found (Debian packages wrk, postfix); its ceiling will be missing" >&2
  fi
done
exec /usr/bin/python3 scripts/bench.py --build "$BUILD" ${BENCH_ONLY:+--only "$BENCH_ONLY"}
