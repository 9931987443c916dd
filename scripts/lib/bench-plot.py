#!/usr/bin/env python3
"""Plots one benchmark run of scripts/bench.sh (needs matplotlib).

  bench-plot.py REPORT_DIR OUT.png [TITLE]

REPORT_DIR is what `paxos bench-report --out` wrote: latency.csv (latency at percentiles) and
throughput.csv (values/s per bucket, with the latency of the values delivered in each bucket).
Three panels: the latency distribution (HdrHistogram style: percentile on a log scale of 1/(1-p)),
throughput over time (offered and delivered per learner), and latency over time.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return rows


def num(v):
    return float(v) if v not in ("", None) else None


def latency_ticks(ax):
    """1-2-5 ticks on a log latency axis, labelled in plain numbers."""
    lo, hi = ax.get_ylim()
    ticks = [m * 10 ** e for e in range(-3, 6) for m in (1, 2, 5) if lo <= m * 10 ** e <= hi]
    ax.set_yticks(ticks)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    report, png = sys.argv[1], sys.argv[2]
    title = sys.argv[3] if len(sys.argv) > 3 else report
    lat = read_csv(f"{report}/latency.csv")
    thr = read_csv(f"{report}/throughput.csv")

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(18, 6))
    fig.suptitle(f"paxos benchmark: {title}", fontsize=13)

    # 1. Latency distribution.
    rows = [r for r in lat if r["one_over_tail"]]
    x = [float(r["one_over_tail"]) for r in rows]
    columns = [c for c in lat[0].keys() if c.endswith("_ms")]
    styles = {"overall_ms": dict(color="black", linewidth=2.2, label="all learners")}
    for c in columns:
        y = [max(float(r[c]), 1e-3) for r in rows]
        if c in styles:
            kw = styles[c]
        elif c == "from_schedule_ms":
            kw = dict(color="tab:red", linestyle="--", label="from the open-loop schedule")
        else:
            kw = dict(linewidth=1, label=c.replace("_ms", ""))
        ax1.plot(x, y, **kw)
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ticks = [1, 2, 10, 100, 1000, 10000, 100000]
    ax1.set_xticks(ticks)
    ax1.set_xticklabels(["0%", "50%", "90%", "99%", "99.9%", "99.99%", "99.999%"])
    ax1.set_xlim(1, max(x) if x else 10)
    latency_ticks(ax1)
    ax1.xaxis.set_minor_formatter(NullFormatter())
    ax1.set_xlabel("percentile")
    ax1.set_ylabel("latency, submission to delivery (ms)")
    ax1.set_title("latency distribution")
    ax1.grid(True, which="both", alpha=0.3)
    ax1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=9, frameon=False)

    # 2. Throughput over time.
    t = [float(r["time_s"]) for r in thr]
    ax2.plot(t, [float(r["offered_per_s"]) / 1000 for r in thr], color="gray", linestyle=":", linewidth=1.5,
             label="offered (values handed to the clients)")
    for c in thr[0].keys():
        if c.startswith("learner") and c.endswith("_per_s"):
            ax2.plot(t, [float(r[c]) / 1000 for r in thr], linewidth=1.2, label=c.replace("_per_s", " delivered"))
    ax2.set_xlabel("seconds since the first value was handed to a client")
    ax2.set_ylabel("thousand values/s (100 ms buckets)")
    ax2.set_title("throughput over time")
    ax2.grid(True, alpha=0.3)
    ax2.set_ylim(bottom=0)
    ax2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=9, frameon=False)

    # 3. Latency over time.
    for c, color, label in (("latency_p50_ms", "tab:blue", "p50"), ("latency_p99_ms", "tab:orange", "p99"),
                            ("latency_max_ms", "tab:red", "max")):
        pts = [(float(r["time_s"]), num(r[c])) for r in thr if num(r[c]) is not None]
        if pts:
            ax3.plot([p[0] for p in pts], [max(p[1], 1e-3) for p in pts], color=color, linewidth=1, label=label)
    ax3.set_yscale("log")
    latency_ticks(ax3)
    ax3.set_xlabel("seconds (bucket of the delivery)")
    ax3.set_ylabel("latency (ms)")
    ax3.set_title("latency of the values delivered in each 100 ms")
    ax3.grid(True, which="both", alpha=0.3)
    ax3.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, fontsize=9, frameon=False)

    fig.tight_layout()
    fig.savefig(png, dpi=90)
    print(f"bench-plot: wrote {png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
