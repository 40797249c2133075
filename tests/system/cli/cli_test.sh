#!/usr/bin/env bash
# Runs the relay binary the way an operator would and checks what they would see.
set -euo pipefail
relay=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
env_clean=(env -i PATH="$PATH")

# --version and --help
"$relay" --version | grep -qx "relay [0-9]*\.[0-9]*\.[0-9]*" || fail "--version"
"$relay" --help | grep -q "config" || fail "--help does not list the config subcommand"

# A valid file plus environment: the effective config is printed, secrets masked.
cat >"$tmp/ok.yaml" <<'YAML'
kafka:
  brokers: "127.0.0.1:9092"
api:
  tokens: ["tok-file-secret-1"]
YAML
out=$("${env_clean[@]}" RELAY_KAFKA_PROPERTIES_SASL_PASSWORD=hunter2-secret "$relay" config -c "$tmp/ok.yaml")
grep -q '127.0.0.1:9092' <<<"$out" || fail "effective config lacks the brokers from the file"
grep -q 'hunter2-secret\|tok-file-secret-1' <<<"$out" && fail "a secret appears in the effective config"

# Several problems at once, each named, and a non-zero exit.
cat >"$tmp/bad.yaml" <<'YAML'
kafka:
  brokers: ""
delivery:
  retry_jitter: 1.5
  nosuch_key: 1
log:
  level: loud
YAML
set +e
err=$("${env_clean[@]}" RELAY_DELIVERY_MAX_IN_FLIGHT=lots "$relay" config -c "$tmp/bad.yaml" 2>&1 >/dev/null)
rc=$?
set -e
[[ $rc == 2 ]] || fail "bad config exited $rc, expected 2"
for key in kafka.brokers delivery.retry_jitter delivery.nosuch_key log.level RELAY_DELIVERY_MAX_IN_FLIGHT; do
    grep -q "$key" <<<"$err" || fail "problem with $key not reported; got: $err"
done
echo "cli: ok"
