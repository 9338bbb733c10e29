#!/usr/bin/env bash
# `make run`: starts the provider simulator and reachd together in the foreground.
# Ctrl-C (or SIGTERM) stops both cleanly.
set -euo pipefail
BUILD="${1:-build}"
cd "$(dirname "$0")/.."

SIM_HTTP="${REACH_SIM_HTTP:-127.0.0.1:9090}"
SIM_SMTP="${REACH_SIM_SMTP:-127.0.0.1:2525}"
LISTEN="${REACH_LISTEN:-127.0.0.1:8080}"
CONFIG="${REACH_CONFIG:-config/reachd.yaml}"
# The development webhook secret; it matches channels.webhook.secret in config/reachd.yaml.
SECRET="whsec_cmVhY2gtZGV2ZWxvcG1lbnQtc2VjcmV0LTAx"

"$BUILD/tests/sim/reach-sim" --http "$SIM_HTTP" --smtp "$SIM_SMTP" --webhook-secret "$SECRET" &
SIM_PID=$!
"$BUILD/gateway/reachd" --config "$CONFIG" --listen "$LISTEN" &
REACHD_PID=$!

stop() {
  trap - INT TERM
  kill -TERM "$REACHD_PID" 2>/dev/null || true
  wait "$REACHD_PID" 2>/dev/null || true
  kill -TERM "$SIM_PID" 2>/dev/null || true
  wait "$SIM_PID" 2>/dev/null || true
  exit 0
}
trap stop INT TERM

echo "reach: reachd on http://$LISTEN, simulator on http://$SIM_HTTP (SMTP $SIM_SMTP). Ctrl-C stops both."
# Exit (and stop the other) as soon as either process ends.
wait -n "$SIM_PID" "$REACHD_PID" || true
stop
