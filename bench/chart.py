"""Draws the start-cost chart for bench/run.py (run with the bench venv's Python).

Reads {"rows": [[name, median_ms, p10_ms, p90_ms, cpu_ms], ...], "goal": ms, "png": path,
"title": text} on stdin and writes a horizontal bar chart of the wall-time medians, with
the p10-p90 range as whiskers, the median CPU time as a narrow dark bar inside, and the
strict tier's goal as a dashed line.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)


def main():
    spec = json.load(sys.stdin)
    rows = list(reversed(spec["rows"]))
    names = [r[0] for r in rows]
    med = [r[1] for r in rows]
    low = [r[1] - r[2] for r in rows]
    high = [r[3] - r[1] for r in rows]
    colors = ["#c0392b" if n.startswith("cordon") else "#7f8c8d" for n in names]
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(rows) + 1.6), dpi=120)
    ax.barh(names, med, xerr=[low, high], color=colors, capsize=3, label="wall time")
    ax.barh(names, [r[4] for r in rows], height=0.25, color="#2c3e50", label="CPU time")
    for y, row in enumerate(rows):
        label = f"  {row[1]:.2f} wall, {row[4]:.2f} CPU"
        ax.text(row[3], y, label, va="center", ha="left", fontsize=8)
    ax.axvline(spec["goal"], linestyle="--", color="#2c3e50", linewidth=1)
    ax.text(spec["goal"], len(rows) - 0.4, f" goal {spec['goal']:.1f} ms", fontsize=8)
    ax.set_xlabel("ms per run of /bin/true (medians; whiskers: wall time p10-p90)")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_xlim(right=max(r[3] for r in rows) * 1.35)
    ax.set_title(f"Start cost per configuration\n{spec['title']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(spec["png"])


if __name__ == "__main__":
    main()
