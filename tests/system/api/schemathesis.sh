#!/usr/bin/env bash
# Property-based test of relay/api/openapi.json against a real `relay serve` (CTest: system.api.schemathesis).
#
#   schemathesis.sh <relay binary> <work dir>
#
# Starts `relay serve` on a free loopback port against the real broker of the `kafka` fixture
# (RELAY_TEST_KAFKA_FILE), with topics of its own, then runs schemathesis (pinned; scripts/install-schemathesis
# into $RELAY_SCHEMATHESIS_VENV) over every operation, reading the document the server itself serves.
# Checks: no 5xx at all (not_a_server_error; the only 5xx the API documents are 503/504 for an unavailable or
# slow Kafka, which a healthy broker never causes, and 500 for a handler failure, which is a bug), and status
# codes, content types, headers and bodies conform to the document. Bounded: few examples per operation, a
# fixed seed (RELAY_SCHEMATHESIS_SEED overrides), a time budget.
#
# Why `relay serve` and not `relay dev`: `relay dev` runs delivery workers, which would try to deliver the
# generated events to the generated subscription URLs (resolving arbitrary host names off the machine).
# `relay serve` only stores subscriptions and produces events.
set -euo pipefail

relay=$1
work=$2
repo=$(cd "$(dirname "$0")/../../.." && pwd)
mkdir -p "$work"
log=$work/schemathesis-serve.log
: >"$log"

st=$("$repo/scripts/install-schemathesis" "${RELAY_SCHEMATHESIS_VENV:-$work/venv}")

if [[ -z ${RELAY_TEST_KAFKA_FILE:-} || ! -s $RELAY_TEST_KAFKA_FILE ]]; then
    echo "schemathesis.sh: RELAY_TEST_KAFKA_FILE names no broker (run through ctest: fixture kafka)" >&2
    exit 1
fi
brokers=$(cat "$RELAY_TEST_KAFKA_FILE")
base="relay-st-$$-$(date +%s)"
token="schemathesis-$$-$RANDOM"
config=$work/schemathesis-serve.yaml
cat >"$config" <<JSON
{
  "log": {"level": "info"},
  "admin": {"address": "127.0.0.1", "port": 0},
  "api": {"address": "127.0.0.1", "port": 0, "request_timeout": "10s"},
  "kafka": {"brokers": "$brokers", "partitions": 1},
  "topics": {"events": "$base.events", "subscriptions": "$base.subscriptions", "retry_prefix": "$base.retry.",
             "dlq": "$base.dlq"}
}
JSON

# RELAY_* variables are configuration to relay: pass none of this script's own (test paths, seed) along.
unset_relay=()
for name in $(compgen -e | grep '^RELAY_' || true); do unset_relay+=(-u "$name"); done
env "${unset_relay[@]}" RELAY_API_TOKENS="$token" "$relay" serve -c "$config" >>"$log" 2>&1 &
serve_pid=$!
stop_serve() {
    if kill -0 "$serve_pid" 2>/dev/null; then
        kill -TERM "$serve_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$serve_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$serve_pid" 2>/dev/null || true
    fi
}
trap stop_serve EXIT

port=
for _ in $(seq 1 600); do
    port=$(sed -n 's/.*"msg":"api listening".*"port":\([0-9]*\).*/\1/p' "$log" | head -n1)
    [[ -n $port ]] && break
    if ! kill -0 "$serve_pid" 2>/dev/null; then
        echo "schemathesis.sh: relay serve exited; log:" >&2
        tail -n 30 "$log" >&2
        exit 1
    fi
    sleep 0.1
done
if [[ -z $port ]]; then
    echo "schemathesis.sh: relay serve did not listen within 60 s; log:" >&2
    tail -n 30 "$log" >&2
    exit 1
fi
echo "relay serve (pid $serve_pid) on 127.0.0.1:$port; log $log"

# The document the server serves must be the one in the repository.
python3 - "$port" "$repo/relay/api/openapi.json" <<'PY'
import sys, urllib.request
served = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/openapi.json", timeout=10).read()
if served != open(sys.argv[2], "rb").read():
    sys.exit("GET /openapi.json differs from relay/api/openapi.json")
PY

status=0
"$st" run "http://127.0.0.1:$port/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --phases examples,fuzzing,stateful \
    --max-examples "${RELAY_SCHEMATHESIS_MAX_EXAMPLES:-50}" \
    --seed "${RELAY_SCHEMATHESIS_SEED:-20261123}" \
    --request-timeout 15 \
    --workers 2 \
    --no-color \
    --report junit --report-dir "$work/schemathesis-report" || status=$?

if ! kill -0 "$serve_pid" 2>/dev/null; then
    echo "schemathesis.sh: relay serve died during the run; log tail:" >&2
    tail -n 30 "$log" >&2
    status=1
fi
if grep -q '"msg":"http handler failed"' "$log"; then
    echo "schemathesis.sh: a handler failed (500); log lines:" >&2
    grep '"msg":"http handler failed"' "$log" | head -n 5 >&2
    status=1
fi
exit "$status"
