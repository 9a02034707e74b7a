#!/usr/bin/env python3
"""cordon's overhead benchmark: one command, one run on this machine, medians and ratios.

Measures, against baselines taken in the same run:
  1. start cost of /bin/true: bare; cordon strict (every layer); cordon with Landlock and
     seccomp only (a policy with `namespaces = false`); cordon --mode off; bubblewrap with
     all namespaces and with none;
  2. cost per syscall: a getppid loop and an open/close loop, bare and under cordon
     strict, timed inside the program so that the run's start cost is not counted;
  3. EnergyPlus 25.2, design day and annual, bare and under cordon strict, with the
     outputs compared once time stamps are masked;
  4. peak RSS of cordon's own processes (supervisor, stage-2 helper, pid-namespace init)
     during a run.
Configurations are sampled round-robin in shuffled order, so that load from other work on
the machine spreads evenly over them; each figure is a median of many runs.

Usage: bench/run.py [--cordon PATH] [--runs N] [--markdown FILE] [--png FILE] [--quick]
Run as root. Builds cordon (cargo build --release -p cordon, honouring CARGO_TARGET_DIR)
when PATH is missing, installs bubblewrap from Debian when it is missing, EnergyPlus
through scripts/energyplus.sh, and matplotlib for the chart into target/bench-venv.
"""
import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "crates", "cordon", "tests", "data")
CHICAGO = "WeatherData/USA_IL_Chicago-OHare.Intl.AP.725300_TMY3.epw"
GOALS = {"strict_ms": 2.0, "getppid": 1.15, "open": 1.4, "energyplus": 1.02}


def spawn(cmd):
    """(wall ms, CPU ms) of one run of `cmd`, output discarded.

    CPU time is user + system time of the process and every descendant it waited for
    (from wait4's rusage): unlike wall time it does not grow while the run waits for a CPU
    that other work on the machine holds.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
        t0 = time.perf_counter_ns()
        pid = os.posix_spawnp(cmd[0], cmd, os.environ, file_actions=actions)
        _, status, usage = os.wait4(pid, 0)
        t1 = time.perf_counter_ns()
    finally:
        os.close(devnull)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        err = subprocess.run(cmd, capture_output=True, text=True).stderr
        sys.exit(f"benchmark command failed ({code}): {' '.join(cmd)}\n{err}")
    return (t1 - t0) / 1e6, (usage.ru_utime + usage.ru_stime) * 1e3


def sample_round_robin(configs, runs, measure, warmup=5):
    """{name: [samples]}: every round runs each configuration once, in shuffled order."""
    samples = {name: [] for name in configs}
    for i in range(runs + warmup):
        names = list(configs)
        random.shuffle(names)
        for name in names:
            value = measure(configs[name])
            if i >= warmup:
                samples[name].append(value)
    return samples


# --- setup -------------------------------------------------------------------------------

def find_or_build_cordon(path):
    if path and os.path.exists(path):
        return path
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    built = os.path.join(target, "release", "cordon")
    if path is None and os.path.exists(built):
        return built
    subprocess.run(["cargo", "build", "--release", "-p", "cordon"], cwd=ROOT, check=True)
    return built


def ensure_bwrap():
    if shutil.which("bwrap"):
        return True
    print("bench: installing bubblewrap from Debian", file=sys.stderr)
    r = subprocess.run(["apt-get", "install", "-y", "-q", "bubblewrap"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        print(f"bench: bubblewrap not available: {r.stderr.strip()}", file=sys.stderr)
    return shutil.which("bwrap") is not None


def workdir():
    """A world-readable scratch folder for the loop program, its probe file and policies."""
    d = tempfile.mkdtemp(prefix="cordon-bench-")
    os.chmod(d, 0o755)
    return d


def build_loops(d):
    out = os.path.join(d, "loops")
    subprocess.run(["gcc", "-O2", "-o", out, os.path.join(ROOT, "bench", "loops.c")],
                   check=True)
    probe = os.path.join(d, "probe.txt")
    with open(probe, "w") as f:
        f.write("x")
    os.chmod(probe, 0o644)
    return out, probe


def landlock_seccomp_policy(cordon, d):
    """A policy file for the Landlock + seccomp tier, or None when this build lacks the key."""
    path = os.path.join(d, "landlock-seccomp.toml")
    with open(path, "w") as f:
        f.write("# Landlock and seccomp only: no namespaces.\nnamespaces = false\n")
    os.chmod(path, 0o644)
    r = subprocess.run([cordon, "policy", "check", path], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"bench: `namespaces = false` not accepted: {r.stderr.strip()}", file=sys.stderr)
        return None
    return path


def layers(cordon, args):
    """{layer: level} of one `cordon run --json ARGS -- /bin/true`."""
    r = subprocess.run([cordon, "run", "--json"] + args + ["--", "/bin/true"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"cordon run {' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
    record = json.loads(r.stdout[r.stdout.index("{"):])
    return {l["layer"]: l["level"] for l in record["report"]["layers"]}


def tier(levels):
    """One-line summary: which confinement layers were enforced."""
    core = [n for n in ("landlock", "seccomp") if levels.get(n) == "enforced"]
    ns = [n for n, v in levels.items() if n.startswith("namespace.") and v == "enforced"]
    short = [f"{n}={v}" for n, v in levels.items()
             if v in ("partial", "missing") and not n.startswith("limit.")]
    text = "+".join(core) + (f" +{len(ns)} namespaces" if ns else ", no namespaces")
    return text + (f" ({', '.join(short)})" if short else "")


# --- 1. start cost -----------------------------------------------------------------------

def bwrap_all():
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session",
            "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev"]
    for link in ("lib", "lib64", "bin", "sbin"):
        target = os.path.join("/", link)
        if os.path.islink(target):
            args += ["--symlink", os.readlink(target), target]
    return args


def start_cost(cordon, policy, have_bwrap, runs):
    true = ["/bin/true"]
    configs = {"bare /bin/true": true,
               "cordon strict (full tier)": [cordon, "run", "--mode", "strict", "--"] + true}
    if policy:
        configs["cordon Landlock + seccomp only"] = [cordon, "run", "--policy", policy,
                                                     "--"] + true
    configs["cordon --mode off"] = [cordon, "run", "--mode", "off", "--"] + true
    if have_bwrap:
        configs["bwrap, all namespaces"] = bwrap_all() + true
        configs["bwrap, no namespaces"] = ["bwrap", "--bind", "/", "/"] + true
    samples = sample_round_robin(configs, runs, spawn)
    base = statistics.median(w for w, _ in samples["bare /bin/true"])
    rows = []
    for name, values in samples.items():
        wall = [w for w, _ in values]
        med = statistics.median(wall)
        q = statistics.quantiles(wall, n=10)
        cpu = statistics.median(c for _, c in values)
        rows.append((name, med, q[0], q[-1], med / base, cpu))
    return rows


# --- 2. cost per syscall -----------------------------------------------------------------

def loop_ns(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"loop failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    return int(r.stdout.strip().splitlines()[-1])


def syscall_cost(cordon, d, loops, probe, policy, runs, scale):
    """Rows (name, goal key, bare ns/call, confined ns/call, ratio): cordon strict, the
    Landlock + seccomp tier when `policy` is given, and the floor of any seccomp filter."""
    confined = [cordon, "run", "--mode", "strict", "--ro", d, "--"]
    tier2 = [cordon, "run", "--policy", policy, "--ro", d, "--"] if policy else None
    rows = []
    for name, key, count, extra in (("getppid", "getppid", 5_000_000 // scale, []),
                                    ("open+close", "open", 200_000 // scale, [probe])):
        args = [loops, key, str(count)] + extra
        configs = {"bare": args, "cordon": confined + args}
        if tier2:
            configs["tier2"] = tier2 + args
        if key == "getppid":
            configs["floor"] = [loops, "getppid-seccomp", str(count)]
        else:
            configs["floor"] = [loops, "open-landlock", str(count)] + extra
        samples = sample_round_robin(configs, runs, loop_ns, warmup=1)
        per_call = {k: statistics.median(v) / count for k, v in samples.items()}
        bare = per_call["bare"]
        rows.append((f"{name} x{count:,}", key, bare, per_call["cordon"],
                     per_call["cordon"] / bare))
        if "tier2" in per_call:
            rows.append((f"{name}, Landlock + seccomp tier", None, bare, per_call["tier2"],
                         per_call["tier2"] / bare))
        if "floor" in per_call:
            floor = ("getppid, bare + allow-all 1-insn seccomp filter" if key == "getppid"
                     else "open+close, bare + a 1-rule Landlock domain")
            rows.append((floor, None, bare, per_call["floor"], per_call["floor"] / bare))
    return rows


# --- 3. EnergyPlus -----------------------------------------------------------------------

def energyplus_dir():
    r = subprocess.run(["bash", os.path.join(ROOT, "scripts", "energyplus.sh")],
                       stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit("scripts/energyplus.sh failed")
    return r.stdout.strip()


def masked(path):
    with open(path, "rb") as f:
        return re.sub(rb"YMD=[0-9.: ]+", b"YMD=<time>", f.read())


def energyplus(cordon, d, runs):
    epd = energyplus_dir()
    rows = []
    for name, idf, weather in (("design day", "minimal_1zone_designday.idf", None),
                               ("annual (Chicago)", "minimal_1zone_annual.idf", CHICAGO)):
        src = os.path.join(d, idf)
        shutil.copyfile(os.path.join(DATA, idf), src)
        os.chmod(src, 0o644)
        outs = {"bare": [], "cordon": []}

        def command(kind):
            out = tempfile.mkdtemp(prefix=f"cordon-bench-ep-{kind}-")
            outs[kind].append(out)
            cmd = [os.path.join(epd, "energyplus")]
            cmd += ["-w", os.path.join(epd, weather)] if weather else []
            cmd += ["-d", out, src]
            if kind == "cordon":
                cmd = [cordon, "run", "--profile", "energyplus", "--mode", "strict",
                       "--ro", epd, "--ro", src, "--rw", out, "--"] + cmd
            return cmd

        samples = sample_round_robin({"bare": "bare", "cordon": "cordon"}, runs,
                                     lambda kind: spawn(command(kind)), warmup=1)
        same = all(masked(os.path.join(outs["bare"][0], f)) ==
                   masked(os.path.join(o, f))
                   for o in outs["cordon"] + outs["bare"]
                   for f in ("eplustbl.csv", "eplusout.eso"))
        clean = all("0 Warning; 0 Severe Errors" in open(os.path.join(o, "eplusout.err"),
                                                          errors="replace").read()
                    for o in outs["cordon"] + outs["bare"])
        wall = {k: statistics.median(w for w, _ in v) for k, v in samples.items()}
        cpu = {k: statistics.median(c for _, c in v) for k, v in samples.items()}
        rows.append((name, wall["bare"], wall["cordon"], cpu["cordon"] / cpu["bare"],
                     same and clean))
        for o in outs["cordon"] + outs["bare"]:
            shutil.rmtree(o, ignore_errors=True)
    return rows


# --- 4. memory ---------------------------------------------------------------------------

def descendants(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(x) for x in f.read().split()]
    except OSError:
        return []
    out = []
    for k in kids:
        out += [k] + descendants(k)
    return out


def status_of(pid):
    fields = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
    except OSError:
        pass
    return fields


def cordon_rss(cordon):
    """Peak RSS (VmHWM, kB) of each cordon process of a strict run of `sleep 2`."""
    p = subprocess.Popen([cordon, "run", "--mode", "strict", "--", "/bin/sleep", "2"])
    peaks = {}
    deadline = time.time() + 1.8
    while time.time() < deadline:
        tree = [p.pid] + descendants(p.pid)
        for depth, pid in enumerate(tree):
            st = status_of(pid)
            # The helper runs as `cordon-stage2` when that binary sits beside cordon; the
            # kernel cuts process names to 15 characters.
            if st.get("Name", "").startswith("cordon") and "VmHWM" in st:
                kb = int(st["VmHWM"].split()[0])
                role = ("supervisor", "stage-2 helper", "pid-namespace init")[min(depth, 2)]
                peaks[role] = max(peaks.get(role, 0), kb)
        time.sleep(0.1)
    p.wait()
    return peaks


# --- report ------------------------------------------------------------------------------

def machine():
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"Linux {platform.release()}, {os.cpu_count()} CPUs ({cpu})"


def load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def chart(rows, png):
    python = os.path.join(ROOT, "target", "bench-venv", "bin", "python")
    if not os.path.exists(python):
        venv = os.path.dirname(os.path.dirname(python))
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([os.path.join(venv, "bin", "pip"), "install", "--quiet",
                        "--disable-pip-version-check", "matplotlib==3.10.*"], check=True)
    data = json.dumps({"rows": [(n, m, lo, hi, cpu) for n, m, lo, hi, _, cpu in rows],
                       "goal": GOALS["strict_ms"], "png": png, "title": machine()})
    subprocess.run([python, os.path.join(ROOT, "bench", "chart.py")], input=data, text=True,
                   check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cordon", help="cordon binary (default: the release build)")
    ap.add_argument("--runs", type=int, default=300, help="runs per start-cost configuration")
    ap.add_argument("--markdown", help="also write the tables to FILE")
    ap.add_argument("--png", default=os.path.join(ROOT, "docs", "start-cost.png"),
                    help="start-cost chart (default docs/start-cost.png; '' for none)")
    ap.add_argument("--quick", action="store_true", help="fewer runs, shorter loops")
    a = ap.parse_args()
    if os.getuid() != 0:
        sys.exit("bench: run as root (the strict tier and bubblewrap's namespaces need it)")
    runs = 30 if a.quick else a.runs
    cordon = find_or_build_cordon(a.cordon)
    d = workdir()
    loops, probe = build_loops(d)
    policy = landlock_seccomp_policy(cordon, d)
    have_bwrap = ensure_bwrap()
    lines = [f"- machine: {machine()}", f"- load average at start: {load()}"]

    lines += [f"- strict tier: {tier(layers(cordon, ['--mode', 'strict']))}"]
    if policy:
        lines += [f"- Landlock + seccomp tier: {tier(layers(cordon, ['--policy', policy]))}"]
    start = start_cost(cordon, policy, have_bwrap, runs)
    lines += ["", f"| start cost of /bin/true ({runs} runs each) | median ms | p10 ms "
              "| p90 ms | ratio to bare | CPU ms (median) |", "|---|---:|---:|---:|---:|---:|"]
    for name, med, lo, hi, ratio, cpu in start:
        lines.append(f"| {name} | {med:.2f} | {lo:.2f} | {hi:.2f} | {ratio:.2f}x "
                     f"| {cpu:.2f} |")

    loop_runs, scale = (3, 10) if a.quick else (9, 1)
    lines += ["", f"| syscall-bound loop (median of {loop_runs}) | bare ns/call "
              "| confined ns/call | ratio | goal |", "|---|---:|---:|---:|---:|"]
    for name, key, bare, boxed, ratio in syscall_cost(cordon, d, loops, probe, policy,
                                                      loop_runs, scale):
        goal = f"{GOALS[key]:.2f}x" if key else ""
        lines.append(f"| {name} | {bare:.0f} | {boxed:.0f} | {ratio:.3f}x | {goal} |")

    ep_runs = 3 if a.quick else 11
    lines += ["", f"| EnergyPlus 25.2 (median of {ep_runs}) | bare s | cordon strict s "
              "| wall ratio | CPU ratio | same outputs, 0 warnings |",
              "|---|---:|---:|---:|---:|---|"]
    for name, bare, boxed, cpu_ratio, same in energyplus(cordon, d, ep_runs):
        lines.append(f"| {name} | {bare / 1000:.3f} | {boxed / 1000:.3f} "
                     f"| {boxed / bare:.3f}x | {cpu_ratio:.3f}x | {'yes' if same else 'NO'} |")

    lines += ["", "| cordon's own processes during a strict run | peak RSS (VmHWM) |",
              "|---|---:|"]
    for role, kb in cordon_rss(cordon).items():
        lines.append(f"| {role} | {kb / 1024:.1f} MiB |")
    lines += ["", f"- load average at end: {load()}"]

    text = "\n".join(lines)
    print(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text + "\n")
    if a.png:
        chart(start, a.png)
        print(f"\nchart: {os.path.relpath(a.png, ROOT)}")
    shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
