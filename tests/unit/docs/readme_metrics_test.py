#!/usr/bin/env python3
"""README.md's "### Metrics reference" table must list exactly the metric families the code registers
(prometheus-cpp Build{Counter,Gauge,Histogram}().Name(...).Help(...) in common/, consumer/ and relay/), each
with its type and its help text word for word, so the README cannot drift from the code."""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
build = re.compile(
    r'Build(Counter|Gauge|Histogram)\(\)\s*\.Name\("([a-z_:][a-z0-9_:]*)"\)\s*\.Help\(((?:\s*"(?:[^"\\]|\\.)*")+)\s*\)'
)
code = {}
for d in ("common", "consumer", "relay"):
    for f in sorted((root / d).rglob("*.cpp")):
        text = f.read_text()
        for kind, name, help_parts in build.findall(text):
            help_text = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', help_parts)).replace('\\"', '"')
            entry = (kind.lower(), help_text)
            if name in code and code[name] != entry:
                sys.exit(f"FAIL: {name} is registered twice with different type or help ({f})")
            code[name] = entry
if len(code) < 20:
    sys.exit(f"FAIL: only {len(code)} metric families found in the sources; the scan is broken")

readme = (root / "README.md").read_text()
m = re.search(r"^### Metrics reference\n(.*?)(?=^#{1,3} |\Z)", readme, re.S | re.M)
if not m:
    sys.exit('FAIL: README.md has no "### Metrics reference" section')
rows = {}
for line in m.group(1).splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("| `") else None
    if not cells:
        continue
    if len(cells) != 4:
        sys.exit(f"FAIL: metrics table row without 4 cells (name, type, labels, help): {line}")
    name = cells[0].strip("`")
    rows[name] = (cells[1], cells[3].replace("\\|", "|"))

problems = []
for name in sorted(set(code) - set(rows)):
    problems.append(f"missing from README: {name} ({code[name][0]}): {code[name][1]}")
for name in sorted(set(rows) - set(code)):
    problems.append(f"in README but not registered by the code: {name}")
for name in sorted(set(rows) & set(code)):
    if rows[name] != code[name]:
        problems.append(f"{name}: README says {rows[name]}, code says {code[name]}")
if problems:
    sys.exit("FAIL:\n  " + "\n  ".join(problems))
print(f"readme metrics table: {len(code)} metric families match")
