#!/usr/bin/env python3
"""Gathers a scripts/bench.sh results folder into results.json and results.md.

  bench-summary.py OUT_DIR

Reads machine.txt, limits/*.json, and every run folder (closed, open-R, classic): report/results.json
(paxos bench-report), cpu.json, classic.json, load-before/after and the processes' stderr logs (their
"stopping" line counts datagrams and commits). Every figure is set against the machine limits
measured in the same invocation.
"""
import glob
import json
import os
import re
import sys

TARGET_VALUES_PER_S = 100_000
TARGET_P50_MS = 1.0
TARGET_P99_MS = 10.0
TARGET_OPEN_RATE = 10_000
TARGET_CLASSIC_MS = 5_000


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def read(path, default=""):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def stop_counters(err_path):
    """The counters of a process's last "stopping" log line (received, sent, commits, dropped...)."""
    text = read(err_path)
    lines = [l for l in text.splitlines() if "stopping" in l]
    if not lines:
        return None
    return {k: int(v) for k, v in re.findall(r"\b(received|dropped|rejected|sent|commits)=(\d+)", lines[-1])}


def limits(out):
    d = os.path.join(out, "limits")
    res = {}
    for receivers in (1, 3):
        send = load(f"{d}/mcast-1to{receivers}-send.json")
        recvs = [load(p) for p in sorted(glob.glob(f"{d}/mcast-1to{receivers}-recv*.json"))]
        recvs = [r for r in recvs if r]
        if send and recvs:
            res[f"multicast_1to{receivers}"] = {
                "sent_per_s": send["per_s"],
                "received_per_s_each": [r["per_s"] for r in recvs],
                "received_per_s_min": min(r["per_s"] for r in recvs),
                "loss": [1 - r["datagrams"] / send["datagrams"] if send["datagrams"] else None for r in recvs],
            }
    sq = load(f"{d}/sqlite.json")
    if sq:
        for r in sq["results"]:
            key = f"sqlite_full_{r['rows_per_transaction']}_row_tx" + ("" if r.get("writers", 1) == 1 else f"_{r['writers']}_writers")
            res[key] = {k: r[k] for k in ("transactions_per_s", "rows_per_s", "transactions_per_s_per_writer",
                                          "commit_ms_p50", "commit_ms_p99", "commit_ms_mean") if k in r}
    return res


def run_summary(out, name, lim):
    d = os.path.join(out, name)
    s = {"name": name}
    rep = load(f"{d}/report/results.json")
    cpu = load(f"{d}/cpu.json", {})
    cls = load(f"{d}/classic.json")
    s["load_before"] = read(f"{d}/load-before")
    s["load_after"] = read(f"{d}/load-after")
    s["fsync_before"] = load(f"{d}/fsync-before.json")
    s["fsync_after"] = load(f"{d}/fsync-after.json")
    s["udp"] = load(f"{d}/udp.json")
    drops = {}
    for line in read(f"{d}/socket-drops.txt").splitlines():
        f = line.split()
        if len(f) == 5:
            drops[f[0]] = drops.get(f[0], 0) + int(f[4])
    s["socket_drops"] = drops
    s["check"] = read(f"{d}/check.txt").splitlines()[-1:] or [""]
    s["check"] = s["check"][0]
    counters = {}
    for p in sorted(glob.glob(f"{d}/*.err")) + sorted(glob.glob(f"{d}/client?.log")):
        label = os.path.basename(p).rsplit(".", 1)[0]
        c = stop_counters(p)
        if c:
            counters[label] = c
    s["counters"] = counters
    during = cpu.get("servers_during_load") or cpu.get("servers") or {}
    servers_cpu = sum(during.values())
    s["cpu_servers_s"] = servers_cpu
    s["cpu_servers_lifetime_s"] = sum((cpu.get("servers") or {}).values())
    s["cpu_per_process_s"] = during
    s["machine_busy_s"] = cpu.get("machine_busy_s")
    if rep:
        s["report"] = rep
        values = rep["values_delivered_by_all"]
        total_cpu = servers_cpu + rep["clients_cpu_s"]
        s["cpu_total_s"] = total_cpu
        s["cpu_s_per_1000_values"] = total_cpu / values * 1000 if values else None
        s["duration_s"] = rep["duration_s"]
        s["values_per_s"] = rep["values_per_s"]
        s["values"] = values
    if cls:
        s["classic"] = cls
        values = cls["expected"]
        s["values"] = values
        if cls.get("all_learned_after_ms"):
            s["duration_s"] = cls["all_learned_after_ms"] / 1000
            s["values_per_s"] = values / s["duration_s"]
        s["cpu_total_s"] = servers_cpu
        s["cpu_s_per_1000_values"] = servers_cpu / values * 1000 if values else None
    # Ratios to the machine's limits.
    ratios = {}
    vps = s.get("values_per_s")
    if vps:
        for k in ("multicast_1to1", "multicast_1to3"):
            if k in lim:
                ratios[f"values_per_s / {k} datagrams_per_s"] = vps / lim[k]["received_per_s_min"]
        if "sqlite_full_100_row_tx" in lim:
            ratios["values_per_s / sqlite_full_100_row_tx rows_per_s"] = vps / lim["sqlite_full_100_row_tx"]["rows_per_s"]
    dur = s.get("duration_s")
    if dur and "sqlite_full_1_row_tx" in lim:
        tx = lim["sqlite_full_1_row_tx"]["transactions_per_s"]
        for label, c in counters.items():
            if label.startswith(("acceptor", "learner")) and "commits" in c:
                # The process lived longer than the load (warm-up, the stop): a lower bound on its rate.
                ratios[f"{label} commits_per_s (over the load) / sqlite_full_1_row_tx tx_per_s"] = c["commits"] / dur / tx
        if rep:
            ratios["latency p50 / one FULL commit (1 writer, p50)"] = rep["latency"]["p50_ms"] / lim["sqlite_full_1_row_tx"]["commit_ms_p50"]
            if "sqlite_full_1_row_tx_5_writers" in lim:
                ratios["latency p50 / one FULL commit (5 writers at once, p50)"] = \
                    rep["latency"]["p50_ms"] / lim["sqlite_full_1_row_tx_5_writers"]["commit_ms_p50"]
    if dur and "multicast_1to3" in lim:
        for label, c in counters.items():
            if label.startswith("acceptor") and "received" in c:
                ratios[f"{label} datagrams_received_per_s / multicast_1to3 per receiver"] = \
                    c["received"] / dur / lim["multicast_1to3"]["received_per_s_min"]
    s["ratios"] = ratios
    return s


def fmt(v, digits=0):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}"


def main():
    out = sys.argv[1]
    lim = limits(out)
    runs = []
    for name in ["closed"] + sorted(os.path.basename(p) for p in glob.glob(f"{out}/open-*")) + ["classic"]:
        if os.path.isdir(os.path.join(out, name)):
            runs.append(run_summary(out, name, lim))
    machine = read(f"{out}/machine.txt")

    # Targets of the issue.
    targets = []
    best = max((r for r in runs if r.get("report") and not r["report"]["open_loop"]),
               key=lambda r: r["report"]["steady_values_per_s"], default=None)
    if best:
        steady = best["report"]["steady_values_per_s"]
        targets.append({"target": f">= {TARGET_VALUES_PER_S:,} values/s sustained with durable acceptors",
                        "measured": f"{best['values_per_s']:,.0f} values/s end to end, "
                                    f"{steady:,.0f} steady ({best['name']})",
                        "reached": steady >= TARGET_VALUES_PER_S and best["values_per_s"] >= TARGET_VALUES_PER_S})
    for r in runs:
        rep = r.get("report")
        if rep and rep["open_loop"]:
            asked = sum(c.get("rate_asked") or 0 for c in rep["clients"])
            if abs(asked - TARGET_OPEN_RATE) < 1:
                l = rep["latency"]
                targets.append({"target": f"p50 <= {TARGET_P50_MS:g} ms and p99 <= {TARGET_P99_MS:g} ms at an offered "
                                          f"{TARGET_OPEN_RATE:,} values/s",
                                "measured": f"p50 {l['p50_ms']:.3f} ms, p99 {l['p99_ms']:.3f} ms ({r['name']})",
                                "reached": l["p50_ms"] <= TARGET_P50_MS and l["p99_ms"] <= TARGET_P99_MS})
        if r.get("classic"):
            c = r["classic"]
            ms = c.get("all_learned_after_ms")
            targets.append({"target": f"classic timeline, {c['values_per_client']:,} values per client, all learned "
                                      f"within {TARGET_CLASSIC_MS / 1000:g} s",
                            "measured": f"{ms / 1000:.2f} s" if ms else "not all learned",
                            "reached": bool(ms) and ms <= TARGET_CLASSIC_MS})

    m = re.search(r"^synchronous: (\w+)", machine, re.M)
    sync = m.group(1) if m else "full"
    if sync != "full":
        for t in targets:
            t["reached"] = None
            t["measured"] += f" — synchronous {sync}: the targets are about durable (full) runs"

    with open(f"{out}/results.json", "w") as f:
        json.dump({"machine": machine, "limits": lim, "runs": runs, "targets": targets}, f, indent=2)

    md = ["# paxos benchmark results", "", "## Machine", "", "```", machine, "```", "", "## Machine limits (same invocation)", ""]
    md += ["| limit | figure |", "|---|---|"]
    for k in ("multicast_1to1", "multicast_1to3"):
        if k in lim:
            v = lim[k]
            md.append(f"| raw multicast, 64-byte datagrams, 1 sender → {k[-1]} receiver(s) | sent {fmt(v['sent_per_s'])}/s, "
                      f"received {', '.join(fmt(x) for x in v['received_per_s_each'])} datagrams/s |")
    for k, label in (("sqlite_full_1_row_tx", "1 row per transaction, 1 writer"),
                     ("sqlite_full_100_row_tx", "100 rows per transaction, 1 writer"),
                     ("sqlite_full_1_row_tx_5_writers", "1 row per transaction, 5 writers at once (own databases)"),
                     ("sqlite_full_100_row_tx_5_writers", "100 rows per transaction, 5 writers at once")):
        if k in lim:
            v = lim[k]
            extra = ""
            if v.get("commit_ms_p50") is not None:
                extra = f"; commit p50 {v['commit_ms_p50']:.3f} ms, p99 {v['commit_ms_p99']:.3f} ms"
            if len(v.get("transactions_per_s_per_writer") or []) > 1:
                extra += "; per writer " + ", ".join(fmt(x) for x in v["transactions_per_s_per_writer"]) + " commits/s"
            md.append(f"| SQLite WAL synchronous=FULL, {label} | {fmt(v['transactions_per_s'])} commits/s, "
                      f"{fmt(v['rows_per_s'])} rows/s{extra} |")
    rf = (load(f"{out}/limits/sqlite.json") or {}).get("raw_fdatasync")
    if rf:
        md.append(f"| raw fdatasync of a 64-byte write, 1 s | {fmt(rf['per_s'])}/s, p50 {rf['p50_ms']:.3f} ms, p99 {rf['p99_ms']:.3f} ms |")
    md.append("")
    for r in runs:
        md += [f"## Run `{r['name']}`", ""]
        rep = r.get("report")
        md += ["| figure | value |", "|---|---|"]
        md.append(f"| load average before / after | {r['load_before']} / {r['load_after']} |")
        fb, fa = r.get("fsync_before") or {}, r.get("fsync_after") or {}
        if fb.get("p50_ms") is not None and fa.get("p50_ms") is not None:
            md.append(f"| raw fdatasync beside the state, 1 s before / after the run | p50 {fb['p50_ms']:.3f} / {fa['p50_ms']:.3f} ms, "
                      f"{fmt(fb['per_s'])} / {fmt(fa['per_s'])} per s |")
        if r.get("values"):
            md.append(f"| values (delivered by both learners) | {fmt(r['values'])} |")
        if r.get("duration_s"):
            md.append(f"| time from the first value fed to the last delivery | {r['duration_s']:.3f} s |")
        if r.get("values_per_s"):
            md.append(f"| throughput | {fmt(r['values_per_s'])} values/s |")
        if rep:
            md.append(f"| steady throughput (10th–90th percentile of deliveries, slowest learner) | {fmt(rep['steady_values_per_s'])} values/s |")
            md.append(f"| offered | {fmt(rep['offered_values_per_s'])} values/s |")
            l = rep["latency"]
            md.append(f"| latency submission → delivery, all learners | p50 {l['p50_ms']:.3f} ms, p90 {l['p90_ms']:.3f} ms, "
                      f"p99 {l['p99_ms']:.3f} ms, p99.9 {l['p99_9_ms']:.3f} ms, max {l['max_ms']:.3f} ms |")
            if rep.get("latency_from_schedule"):
                l = rep["latency_from_schedule"]
                md.append(f"| latency from the open-loop schedule | p50 {l['p50_ms']:.3f} ms, p99 {l['p99_ms']:.3f} ms, "
                          f"max {l['max_ms']:.3f} ms |")
            for le in rep["learners"]:
                l = le["latency"]
                md.append(f"| learner {le['learner']} | {fmt(le['delivered'])} delivered, {le['duplicates']} duplicates, "
                          f"{le['missing']} missing; p50 {l['p50_ms']:.3f} ms, p99 {l['p99_ms']:.3f} ms, "
                          f"max {l['max_ms']:.3f} ms; peak 1 s {fmt(le.get('peak_1s_values_per_s'))} values/s |")
        if r.get("classic"):
            c = r["classic"]
            md.append(f"| classic: all learned after | {fmt(c['all_learned_after_ms'])} ms (target {c['target_ms']} ms): "
                      f"**{c['verdict']}** |")
        if r.get("cpu_total_s") is not None:
            who = ("cluster (servers from the clients' start to the stop + clients)" if rep
                   else "servers from the clients' start to the stop (clients not measured in the classic run)")
            md.append(f"| CPU, {who} | {r['cpu_total_s']:.2f} s = {fmt(r.get('cpu_s_per_1000_values'), 3)} s per 1,000 values |")
            md.append(f"| CPU of the servers over their whole life (start, warm-up, load, stop) | {r['cpu_servers_lifetime_s']:.2f} s |")
            md.append(f"| CPU per process (s) | " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["cpu_per_process_s"].items()))
                      + (f", clients {rep['clients_cpu_s']:.2f}" if rep else "") + " |")
        if r.get("machine_busy_s") is not None:
            md.append(f"| machine busy CPU from the clients' start until all was learned (every process, kernel included) | "
                      f"{r['machine_busy_s']:.2f} s |")
        if r["counters"]:
            md.append("| datagrams received / sent, commits | " + "; ".join(
                f"{k} {c.get('received', 0):,}/{c.get('sent', 0):,}, {c.get('commits', 0):,}" for k, c in sorted(r["counters"].items())) + " |")
        if r.get("udp"):
            u = r["udp"]
            md.append(f"| UDP in the namespace during the load | {fmt(u.get('InDatagrams'))} datagrams received, "
                      f"{fmt(u.get('RcvbufErrors'))} dropped for a full receive buffer, {fmt(u.get('InErrors'))} receive errors |")
        if r.get("socket_drops"):
            md.append("| datagrams dropped per socket owner (full receive buffer; servers, read before the stop) | "
                      + ", ".join(f"{k} {fmt(v)}" for k, v in sorted(r["socket_drops"].items())) + " |")
        md.append(f"| checks | {r['check']} |")
        for k, v in r["ratios"].items():
            md.append(f"| ratio: {k} | {v:.3f} |")
        if os.path.exists(f"{out}/{r['name']}/bench.png"):
            md += ["", f"![{r['name']}]({r['name']}/bench.png)"]
        md.append("")
    md += ["## Targets", "", "| target | measured | reached |", "|---|---|---|"]
    for t in targets:
        verdict = "n/a" if t["reached"] is None else ("yes" if t["reached"] else "**no**")
        md.append(f"| {t['target']} | {t['measured']} | {verdict} |")
    md.append("")
    with open(f"{out}/results.md", "w") as f:
        f.write("\n".join(md))
    print("\n".join(md), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
