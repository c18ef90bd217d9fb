#!/usr/bin/env python3
"""Every metric the Grafana dashboard queries must be one the binaries export: each name in a
panel's PromQL (histogram suffixes _bucket/_sum/_count removed) must appear as a string in
dpo-train or dpo-reference-server, and every panel must have a query.

    grafana_dashboard_test.py DASHBOARD_JSON BINARY...
"""
import json
import re
import sys

dashboard_path, binaries = sys.argv[1], sys.argv[2:]
exported = b"".join(open(path, "rb").read() for path in binaries)
dashboard = json.load(open(dashboard_path))
failures = []
names = set()
for panel in dashboard["panels"]:
    targets = panel.get("targets", [])
    if not targets:
        failures.append(f"panel {panel['title']!r} has no query")
    for target in targets:
        for name in re.findall(r"\b(dpo_[a-z0-9_]+)", target["expr"]):
            names.add(re.sub(r"_(bucket|sum|count)$", "", name))
for template in dashboard.get("templating", {}).get("list", []):
    for name in re.findall(r"\b(dpo_[a-z0-9_]+)", template.get("query", "") if isinstance(template.get("query"), str) else ""):
        names.add(name)
for name in sorted(names):
    if name.encode() + b"\0" not in exported:
        failures.append(f"the dashboard queries {name}, which no binary exports")
for failure in failures:
    print("FAILED:", failure)
print(f"{len(names)} metric names checked against {len(binaries)} binaries" + (f", {len(failures)} failed" if failures else ""))
sys.exit(1 if failures else 0)
