#!/usr/bin/env python3
"""cordon's overhead benchmark: one run on this machine, medians and ratios.

Measures, against baselines taken in the same run:
  1. start cost per run of /bin/true: bare, cordon at each mode, bubblewrap;
  2. per-syscall cost: a getppid loop and an open/close loop, bare vs cordon strict;
  3. peak RSS of cordon's own processes during a run.

Usage: bench/run.py [--cordon PATH] [--runs N] [--markdown FILE]
Build first: cargo build --release (the script does it when PATH is missing).
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def median_ms(cmd, runs, env=None):
    """Median wall time of `cmd` over `runs` runs (after 5 warm-ups), in ms."""
    samples = []
    for i in range(runs + 5):
        t0 = time.perf_counter_ns()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        t1 = time.perf_counter_ns()
        if r.returncode != 0:
            sys.exit(f"benchmark command failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr.decode()}")
        if i >= 5:
            samples.append((t1 - t0) / 1e6)
    return statistics.median(samples)


def bwrap_all():
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session",
            "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev"]
    for link in ("lib", "lib64", "bin", "sbin"):
        target = os.path.join("/", link)
        if os.path.islink(target):
            args += ["--symlink", os.readlink(target), target]
    return args


def build(cordon):
    if not os.path.exists(cordon):
        subprocess.run(["cargo", "build", "--release", "-p", "cordon"], cwd=ROOT, check=True)
    out = os.path.join(tempfile.mkdtemp(prefix="cordon-bench-"), "loops")
    subprocess.run(["gcc", "-O2", "-o", out, os.path.join(ROOT, "bench", "loops.c")], check=True)
    os.chmod(os.path.dirname(out), 0o755)
    return out


def start_cost(cordon, runs):
    true = ["/bin/true"]
    rows = [("bare /bin/true", true)]
    rows.append(("cordon --mode strict", [cordon, "run", "--mode", "strict", "--"] + true))
    rows.append(("cordon --mode auto", [cordon, "run", "--"] + true))
    rows.append(("cordon --mode off", [cordon, "run", "--mode", "off", "--"] + true))
    if shutil.which("bwrap"):
        rows.append(("bwrap, all namespaces", bwrap_all() + true))
        rows.append(("bwrap, no namespaces", ["bwrap", "--bind", "/", "/"] + true))
    results = [(name, median_ms(cmd, runs)) for name, cmd in rows]
    base = results[0][1]
    return [(name, ms, ms / base) for name, ms in results]


def syscall_cost(cordon, loops, runs):
    rows = []
    probe = os.path.join(os.path.dirname(loops), "probe.txt")
    with open(probe, "w") as f:
        f.write("x")
    os.chmod(probe, 0o644)
    confined = [cordon, "run", "--mode", "strict", "--ro", os.path.dirname(loops), "--"]
    for name, args in (("getppid x5M", ["getppid", "5000000"]),
                       ("open+close x500k", ["open", "500000", probe])):
        bare = median_ms([loops] + args, runs)
        boxed = median_ms(confined + [loops] + args, runs)
        rows.append((name, bare, boxed, boxed / bare))
    return rows


def cordon_rss(cordon):
    """Peak RSS of cordon's own processes (supervisor) while a run sleeps."""
    p = subprocess.Popen([cordon, "run", "--", "/bin/sleep", "1"])
    time.sleep(0.5)
    rss = {}
    for pid in [p.pid] + children(p.pid):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(("Name:", "VmHWM:")):
                        rss.setdefault(pid, []).append(line.split(":", 1)[1].strip())
        except OSError:
            pass
    p.wait()
    return rss


def children(pid):
    out = []
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(x) for x in f.read().split()]
    except OSError:
        return out
    for k in kids:
        out += [k] + children(k)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cordon", default=os.path.join(ROOT, "target", "release", "cordon"))
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--markdown")
    a = ap.parse_args()
    loops = build(a.cordon)
    lines = [f"machine: {os.uname().sysname} {os.uname().release}, {os.cpu_count()} cores, "
             f"uid {os.getuid()}", "",
             "| start cost of /bin/true | median ms | ratio to bare |", "|---|---:|---:|"]
    for name, ms, ratio in start_cost(a.cordon, a.runs):
        lines.append(f"| {name} | {ms:.2f} | {ratio:.2f}x |")
    lines += ["", "| syscall-bound loop | bare ms | cordon strict ms | ratio |", "|---|---:|---:|---:|"]
    for name, bare, boxed, ratio in syscall_cost(a.cordon, loops, max(5, a.runs // 20)):
        lines.append(f"| {name} | {bare:.1f} | {boxed:.1f} | {ratio:.3f}x |")
    lines += ["", "| cordon's own processes during a run | peak RSS |", "|---|---:|"]
    for pid, (name, hwm) in cordon_rss(a.cordon).items():
        lines.append(f"| {name} (pid {pid}) | {hwm} |")
    text = "\n".join(lines)
    print(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
