#!/usr/bin/env bash
# Checks of the Helm chart helm/relay, one per CTest entry (see CMakeLists.txt):
#
#   chart_test.sh <source dir> lint        helm lint --strict with every ci/*-values.yaml
#   chart_test.sh <source dir> template    helm template with every ci/*-values.yaml; the output parses, every
#                                           document has kind and name, and the two Deployments are there
#   chart_test.sh <source dir> unittest    the helm-unittest suites (helm/relay/tests/*_test.yaml)
#   chart_test.sh <source dir> schema      values with a misspelt key (at several depths) fail schema
#                                           validation naming the key; the schema covers every setting of
#                                           config.hpp's table
#   chart_test.sh <source dir> readme      every value has a `## @param`, and the chart README's parameter
#                                           table is the one values_doc.py generates
#   chart_test.sh <source dir> alerts      the rendered PrometheusRule passes `promtool check rules`, and its
#                                           alerts fire on the metrics Relay exports (`promtool test rules`)
#
# helm comes from scripts/install-helm (the `helm.install` fixture builds it once).
set -euo pipefail
root=$1
mode=$2
chart=$root/helm/relay
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

eval "$("$root/scripts/install-helm" --env)"
# Keep helm's own state out of $HOME.
export HELM_CONFIG_HOME=$tmp/helm/config HELM_CACHE_HOME=$tmp/helm/cache HELM_DATA_HOME=$tmp/helm/data

values_files=("$chart"/ci/*-values.yaml)
((${#values_files[@]} >= 6)) || fail "expected the six ci/*-values.yaml scenarios, found ${#values_files[@]}"

case "$mode" in
lint)
    for v in "${values_files[@]}"; do
        out=$(helm lint --strict "$chart" -f "$v" 2>&1) || fail "helm lint --strict -f ${v##*/}:"$'\n'"$out"
        grep -q '1 chart(s) linted, 0 chart(s) failed' <<<"$out" || fail "unexpected lint output: $out"
        echo "lint ok: ${v##*/}"
    done
    ;;
template)
    for v in "${values_files[@]}"; do
        name=${v##*/}
        helm template rel "$chart" -n payments -f "$v" >"$tmp/$name.out" 2>"$tmp/err" ||
            fail "helm template -f $name: $(cat "$tmp/err")"
        python3 - "$tmp/$name.out" "$name" <<'PY' || fail "rendered manifests of $name"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = {}
for d in docs:
    assert d.get("apiVersion") and d.get("kind"), f"document without apiVersion/kind: {d}"
    name = d["metadata"]["name"]
    assert len(name) <= 63, name
    kinds.setdefault(d["kind"], []).append(name)
deployments = sorted(kinds.get("Deployment", []))
assert deployments == ["rel-relay-api", "rel-relay-worker"], deployments
scenario = sys.argv[2]
expect = {
    "hpa-values.yaml": ["HorizontalPodAutoscaler"],
    "keda-values.yaml": ["ScaledObject", "TriggerAuthentication"],
    "metrics-values.yaml": ["ServiceMonitor", "PrometheusRule", "NetworkPolicy"],
}.get(scenario, [])
for k in expect:
    assert k in kinds, f"{scenario}: no {k} rendered ({sorted(kinds)})"
if scenario == "external-secret-values.yaml":
    assert "Secret" not in kinds, "existingSecret must not create a Secret"
else:
    assert "Secret" in kinds
print(f"template ok: {scenario}: " + ", ".join(f"{k} x{len(v)}" for k, v in sorted(kinds.items())))
PY
    done
    ;;
unittest)
    helm unittest --strict --color=false "$chart"
    ;;
schema)
    # A misspelt key anywhere in the values must be refused, naming the key.
    for typo in 'replicaCont: 3' 'api: {replicaCont: 3}' 'config: {delivery: {drain_timout: 30s}}' \
        'kafka: {sasl: {usename: x}}' 'metrics: {serviceMonitor: {enable: true}}' \
        'subscriptions: [{id: a, url: "https://x.example", event_types: ["*"], secert: whsec_x}]'; do
        printf '%s\n' "$typo" >"$tmp/typo.yaml"
        key=$(grep -oE '(replicaCont|drain_timout|usename|enable|secert)' "$tmp/typo.yaml" | head -1)
        if out=$(helm template rel "$chart" -f "$tmp/typo.yaml" 2>&1); then
            fail "values with a misspelt key ($typo) rendered without an error"
        fi
        grep -q 'values don.t meet the specifications of the schema' <<<"$out" ||
            fail "($typo) failed, but not on the schema: $out"
        grep -q "$key" <<<"$out" || fail "($typo) the schema error does not name '$key': $out"
        echo "schema refuses: $typo"
    done
    # Types are checked too.
    printf 'config: {kafka: {partitions: "many"}}\n' >"$tmp/type.yaml"
    helm template rel "$chart" -f "$tmp/type.yaml" >/dev/null 2>&1 &&
        fail "a string partitions count passed the schema"
    # Every setting of the configuration table may be set under `config` (except the secret ones).
    python3 - "$root/common/include/relay/config/config.hpp" "$chart/values.schema.json" <<'PY'
import json, re, sys
keys = re.findall(r"^/// \| `([a-z_.]+)` \| `RELAY_", open(sys.argv[1]).read(), re.M)
assert len(keys) > 50, keys
schema = json.load(open(sys.argv[2]))["properties"]["config"]
missing = []
for key in keys:
    if key in ("api.tokens", "subscriptions"):
        continue
    node = schema
    for part in key.split("."):
        node = node.get("properties", {}).get(part)
        if node is None:
            missing.append(key)
            break
assert not missing, f"settings missing from values.schema.json config: {missing}"
print(f"schema covers all {len(keys) - 2} non-secret settings")
PY
    ;;
alerts)
    helm template rel "$chart" -n payments -f "$chart/ci/metrics-values.yaml" \
        --show-only templates/prometheusrule.yaml >"$tmp/rule.yaml"
    python3 - "$tmp/rule.yaml" "$tmp/rules.yaml" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
assert doc["kind"] == "PrometheusRule"
yaml.safe_dump({"groups": doc["spec"]["groups"]}, open(sys.argv[2], "w"), sort_keys=False)
PY
    promtool check rules "$tmp/rules.yaml"
    cp "$(dirname "$0")/alerts_test.yaml" "$tmp/"
    (cd "$tmp" && promtool test rules alerts_test.yaml)
    ;;
readme)
    python3 "$(dirname "$0")/values_doc.py" "$chart" --check
    ;;
*)
    fail "unknown mode $mode"
    ;;
esac
