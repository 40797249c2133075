#!/usr/bin/env bash
# The README's configuration reference must be the settings table of common/include/relay/config/config.hpp,
# which config_test checks row by row against the loader: so the README cannot drift from the code.
set -euo pipefail
root=$1
code=$(sed -n 's#^/// \(| `[a-z_.]*` .*\)$#\1#p' "$root/common/include/relay/config/config.hpp")
readme=$(grep -E '^\| `[a-z_.]+` \| `RELAY_' "$root/README.md")
[[ -n $code ]] || { echo "FAIL: no settings table found in config.hpp" >&2; exit 1; }
if ! diff <(echo "$code") <(echo "$readme"); then
    echo "FAIL: README configuration table differs from config.hpp (lines above: < code, > README)" >&2
    exit 1
fi
echo "readme config table: $(wc -l <<<"$code") settings match"
