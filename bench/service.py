#!/usr/bin/env python3
"""cordon service benchmark: trivial runs through the HTTP API, as tool servers submit them.

Starts `cordon serve` (release build) on a fresh state directory, with one tenant per
client; each client keeps one HTTP connection and submits `/bin/true` runs as fast as the
service answers. Prints:
  - submissions per second and p50/p99/max submit latency (POST /v1/runs until the 201);
  - finished runs per second (first submission until the last run has ended), which the
    sandbox's start cost per run bounds on this machine;
  - the service's RSS at start and once RECORDS records are stored.
Every submission is checked afterwards: none lost, none duplicated, all succeeded.

Usage: bench/service.py [--cordon PATH] [--clients N] [--records N] [--concurrent N]
                        [--workdir DIR]
The state directory and run root are made in a fresh folder below DIR (default /tmp), so
DIR's file system is part of what is measured: every run makes a folder and a work
folder (and a log file per stream it writes to; `/bin/true` writes none). Run as root.
Builds cordon (cargo build --release -p cordon, honouring CARGO_TARGET_DIR) when PATH is
not given. Python standard library only.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_cordon():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    subprocess.run(["cargo", "build", "--release", "-p", "cordon"], cwd=REPO, check=True)
    return os.path.join(target, "release", "cordon")


def token(cordon):
    out = subprocess.run([cordon, "token"], capture_output=True, text=True, check=True)
    tok, line = out.stdout.splitlines()[:2]
    return tok, line


def write_config(workdir, cordon, clients, records, concurrent):
    tenants, text = [], [
        'listen = "127.0.0.1:0"',
        f'state_dir = "{workdir}/state"',
        f'run_root = "{workdir}/runs"',
        f"max_concurrent = {concurrent}",
    ]
    for i in range(clients):
        tok, line = token(cordon)
        tenants.append(tok)
        text += ["", "[[tenants]]", f'name = "bench{i}"', line,
                 f"max_concurrent = {concurrent}", f"max_queued = {records}"]
    path = os.path.join(workdir, "service.toml")
    with open(path, "w") as f:
        f.write("\n".join(text) + "\n")
    return path, tenants


def start(cordon, config):
    proc = subprocess.Popen([cordon, "serve", "--config", config],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        m = re.search(r"serving the API on http://([\d.]+):(\d+)", line)
        if m:
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc, m.group(1), int(m.group(2))
    raise SystemExit("cordon serve did not start")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Client:
    def __init__(self, host, port, tok):
        self.conn = http.client.HTTPConnection(host, port, timeout=120)
        self.auth = {"Authorization": f"Bearer {tok}"}

    def request(self, method, path, body=None):
        headers = dict(self.auth)
        if body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(body)
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")


def submitter(host, port, tok, count, latencies, ids, errors):
    client = Client(host, port, tok)
    body = {"argv": ["/bin/true"]}
    for _ in range(count):
        t0 = time.perf_counter()
        status, view = client.request("POST", "/v1/runs", body)
        latencies.append(time.perf_counter() - t0)
        if status == 201:
            ids.append(view["id"])
        else:
            errors.append((status, view))


def all_runs(client):
    runs, before = [], None
    while True:
        q = "/v1/runs?limit=500" + (f"&before={before}" if before else "")
        status, page = client.request("GET", q)
        assert status == 200, page
        runs += page["runs"]
        before = page.get("next_before")
        if not before:
            return runs


def wait_done(host, port, tenants):
    """Returns once no tenant has a queued or running run. Asks for one run of each, so
    that the polling itself stays a negligible load on the service it measures."""
    clients = [Client(host, port, t) for t in tenants]
    while True:
        pending = 0
        for c in clients:
            for state in ("queued", "running"):
                status, page = c.request("GET", f"/v1/runs?state={state}&limit=1")
                assert status == 200, page
                pending += len(page["runs"])
        if pending == 0:
            return
        time.sleep(0.2)


def pct(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cordon", help="the cordon binary (default: build a release one)")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--concurrent", type=int, default=4, help="runs running at once")
    ap.add_argument("--workdir", default="/tmp",
                    help="where the state directory and run root are made (default /tmp)")
    args = ap.parse_args()
    cordon = args.cordon or build_cordon()
    workdir = tempfile.mkdtemp(prefix="cordon-bench-service-", dir=args.workdir)
    config, tenants = write_config(workdir, cordon, args.clients, args.records,
                                   args.concurrent)
    proc, host, port = start(cordon, config)
    try:
        run(args, proc, host, port, tenants)
    finally:
        proc.terminate()
        proc.wait(timeout=120)
        shutil.rmtree(workdir, ignore_errors=True)


def run(args, proc, host, port, tenants):
    rss_start = rss_kib(proc.pid)
    per_client = args.records // args.clients
    latencies, ids, errors = [], [], []
    threads = [threading.Thread(target=submitter,
                                args=(host, port, t, per_client, latencies, ids, errors))
               for t in tenants]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    submitted = time.perf_counter() - t0
    wait_done(host, port, tenants)
    finished = time.perf_counter() - t0
    rss_end = rss_kib(proc.pid)

    runs = [r for t in tenants for r in all_runs(Client(host, port, t))]
    seen = [r["id"] for r in runs]
    states = {}
    for r in runs:
        states[r["state"]] = states.get(r["state"], 0) + 1
    lat = sorted(latencies)
    total = len(ids)
    print(f"clients {args.clients}, runs {total} of /bin/true, "
          f"{args.concurrent} running at once, {os.cpu_count()} cores, under {args.workdir}")
    print(f"submit: {total / submitted:.0f} runs/s; latency p50 {pct(lat, 0.5) * 1e3:.2f} ms, "
          f"p99 {pct(lat, 0.99) * 1e3:.2f} ms, max {lat[-1] * 1e3:.2f} ms "
          f"(mean {statistics.mean(lat) * 1e3:.2f} ms)")
    print(f"finished: {total / finished:.0f} runs/s ({finished:.1f} s for all)")
    print(f"service RSS: {rss_start / 1024:.1f} MiB at start, "
          f"{rss_end / 1024:.1f} MiB with {len(runs)} records")
    print(f"records: {len(runs)} stored, {len(set(seen))} distinct, states {states}, "
          f"refused submissions {len(errors)}")
    ok = (not errors and len(runs) == total and len(set(seen)) == total
          and set(seen) == set(ids) and states.get("succeeded") == total)
    print("consistent: every submission stored once and succeeded" if ok
          else "INCONSISTENT: see the counts above")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
