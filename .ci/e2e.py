#!/usr/bin/env python3
"""Evaluates every PromQL expression of the dashboards and the alert rules
through a real Prometheus that scrapes the demo, and checks that the lag
alert goes pending or firing. Standard library plus PyYAML (python3-yaml).

Fails when an expression does not parse, when a panel the demo exercises
returns no data, or when the event-loop lag alert never leaves inactive.
A panel is exercised when every metric it reads is one the demo exports and
every finding kind it selects matches one the demo reported: both read from
the demo itself (/metrics and /doctor.json) once data has accumulated, so
every anti-pattern of the shop has its panels checked.
"""
import argparse
import glob
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAG_ALERT = "TokioDoctorEventLoopLagHigh"
# The kinds the demo reported, read from its /doctor.json after the wait.
DEMO_KINDS = set()
# With a 1 s scrape and a one-minute run, Grafana's $__rate_interval would be
# 4 scrapes at least; 30 s keeps every rate defined over the whole run.
SUBSTITUTIONS = [("$__rate_interval", "30s"), ("$job", ".*"), ("$instance", ".*")]


def api(base, path, params):
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        return json.load(e)


def dashboard_exprs():
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, "dashboards", "*.json"))):
        d = json.load(open(path))
        panels = []
        for p in d["panels"]:
            panels.append(p)
            panels.extend(p.get("panels", []))
        for p in panels:
            for t in p.get("targets", []):
                out.append((f"{os.path.basename(path)} / {p['title']} / {t['refId']}", t["expr"]))
    return out


def rule_exprs():
    out = []
    prom = yaml.safe_load(open(os.path.join(ROOT, "dashboards", "tokio-doctor.rules.yml")))
    for g in prom["groups"]:
        for r in g["rules"]:
            out.append((f"tokio-doctor.rules.yml / {r['alert']}", r["expr"]))
    graf = yaml.safe_load(open(os.path.join(ROOT, "dashboards", "grafana-alerting.yml")))
    for g in graf["groups"]:
        for r in g["rules"]:
            for q in r["data"]:
                if "expr" in q["model"]:
                    out.append((f"grafana-alerting.yml / {r['title']} / {q['refId']}", q["model"]["expr"]))
    return out


def substitute(expr):
    for a, b in SUBSTITUTIONS:
        expr = expr.replace(a, b)
    return expr


def exercised(expr, families):
    for name in re.findall(r"\btokio_doctor_\w+", expr):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in families and base not in families:
            return False, f"{name} is not exported by the demo"
    for op, value in re.findall(r'\bkind(=~|=)"([^"]*)"', expr):
        pattern = value if op == "=~" else re.escape(value)
        if not any(re.fullmatch(pattern, k) for k in DEMO_KINDS):
            return False, f"kind {value} is not the demo's"
    return True, ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prometheus", required=True)
    ap.add_argument("--demo", required=True, help="the demo's base URL (serves /metrics and /doctor.json)")
    ap.add_argument("--min-seconds", type=float, default=45)
    ap.add_argument("--max-seconds", type=float, default=150)
    ap.add_argument("--report", required=True)
    a = ap.parse_args()
    base = a.prometheus
    # Let data accumulate, and watch the lag alert.
    start = time.time()
    states = set()
    while True:
        elapsed = time.time() - start
        alerts = api(base, "/api/v1/alerts", {}).get("data", {}).get("alerts", [])
        for al in alerts:
            if al["labels"].get("alertname") == LAG_ALERT:
                states.add(al["state"])
        if elapsed >= a.min_seconds and "firing" in states:
            break
        if elapsed >= a.max_seconds:
            break
        time.sleep(2)
    print(f"{LAG_ALERT}: states seen {sorted(states)} in {time.time() - start:.0f} s")

    # Families with at least one sample: a family rendered with HELP and
    # TYPE but no series (no queue watched yet, say) has nothing to show.
    with urllib.request.urlopen(f"{a.demo}/metrics", timeout=10) as r:
        metrics = r.read().decode()
    samples = set(re.findall(r"^(tokio_doctor_\w+)[{ ]", metrics, re.M))
    families = samples | {re.sub(r"_(bucket|sum|count)$", "", n) for n in samples}
    assert "tokio_doctor_event_loop_lag_seconds" in families, "the demo's metrics lack the lag"
    with urllib.request.urlopen(f"{a.demo}/doctor.json", timeout=10) as r:
        DEMO_KINDS.update(f["kind"] for f in json.load(r)["findings"])
    print(f"the demo reported {len(DEMO_KINDS)} kinds: {', '.join(sorted(DEMO_KINDS))}")
    assert "blocking_poll" in DEMO_KINDS, "the demo did not report its blocking login"
    now = sorted({(al["labels"]["alertname"], al["state"]) for al in alerts})
    print(f"alerts now: {now}")

    targets = api(base, "/api/v1/targets", {})["data"]["activeTargets"]
    assert targets and all(t["health"] == "up" for t in targets), f"scrape not healthy: {targets}"
    # The dashboards' job and instance variables read tokio_doctor_build_info.
    series = api(base, "/api/v1/series", {"match[]": "tokio_doctor_build_info"})["data"]
    assert series and all("job" in s and "instance" in s for s in series), series

    end = time.time()
    failures, report = [], []
    data_ok = not_exercised = 0
    for where, raw in dashboard_exprs() + rule_exprs():
        expr = substitute(raw)
        instant = api(base, "/api/v1/query", {"query": expr, "time": f"{end:.3f}"})
        entry = {"where": where, "expr": expr, "status": instant.get("status")}
        if instant.get("status") != "success":
            failures.append(f"{where}: does not evaluate: {instant.get('error')}\n    {expr}")
            report.append(entry)
            continue
        is_rule = "rules.yml" in where or "alerting.yml" in where
        ok, why = exercised(expr, families)
        if is_rule:
            # A rule returns data only while it alerts; parsing is the check,
            # and the lag alert is checked below.
            entry["checked"] = "parses"
        elif not ok:
            entry["checked"] = f"parses; not exercised by the demo: {why}"
            not_exercised += 1
        else:
            ranged = api(base, "/api/v1/query_range", {
                "query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": "2"})
            result = ranged.get("data", {}).get("result", []) if ranged.get("status") == "success" else []
            points = sum(len(r.get("values", [])) for r in result)
            entry["checked"] = f"returned {len(result)} series, {points} points"
            if points == 0:
                failures.append(f"{where}: the demo exercises it but it returned no data\n    {expr}")
            else:
                data_ok += 1
        report.append(entry)

    if not ({"pending", "firing"} & states):
        failures.append(f"{LAG_ALERT} never went pending or firing while the demo blocked its executor")
    json.dump(report, open(a.report, "w"), indent=2)
    total = len(report)
    print(f"{total} expressions evaluated: {total - len([f for f in failures if 'does not evaluate' in f])} parse, "
          f"{data_ok} exercised panels returned data, {not_exercised} wait for detectors the demo lacks")
    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print("e2e: every expression parses, every exercised panel has data, the lag alert fired")


if __name__ == "__main__":
    main()
