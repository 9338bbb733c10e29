#!/usr/bin/env python3
"""End-to-end benchmark of reachd (issue 4): every figure beside a ceiling measured in the same run.

Run through `make bench` (scripts/bench.sh); see that file for the knobs. Starts reach-sim, postfix's
smtp-sink and reachd on free loopback ports with a throwaway store, drives them with
build/bench/reach-load and public tools (wrk, smtp-source), reads completion from reachd's /metrics
and the simulator's /_sim/stats, CPU and memory from /proc, and prints one table.
"""
import argparse
import base64
import ctypes
import datetime
import hashlib
import hmac
import json
import os
import pwd
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

# server.threads of every reachd here, and of the single-enqueue ceiling (the same server).
HTTP_THREADS = 2
SECRET = "whsec_cmVhY2gtYmVuY2htYXJrLXNpZ25pbmcta2V5LTAx"
CLK_TCK = os.sysconf("SC_CLK_TCK")
FUTURE_MS = 86400 * 1000  # the enqueue figures schedule their messages a day ahead (see phases)


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rfc3339_ms(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ---------------------------------------------------------------------------------------------
# /proc accounting


def cpu_s(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def mem_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


# ---------------------------------------------------------------------------------------------
# HTTP


def http(method, url, body=None, timeout=30):
    data = None
    if body is not None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw, status = r.read(), r.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def metrics(base):
    """reachd's /metrics as {name{labels}: value}."""
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            out[name] = float(value)
        except ValueError:
            pass
    return out


def metric_sum(m, prefix, must=""):
    return sum(v for k, v in m.items() if k.startswith(prefix) and must in k)


def pooled_quantile(rounds, q):
    """The q-quantile (0..1) of every request of several wrk rounds together, in ms.

    Each round carries its latency distribution as (fraction, ms) quantile points, fine in the
    tail; a point between two grid fractions counts at the lower one, so the answer errs high."""
    total = sum(r["requests"] for r in rounds)
    for x in sorted({ms for r in rounds for _, ms in r["quantiles"]}):
        below = 0.0
        for r in rounds:
            f = max([p for p, ms in r["quantiles"] if ms <= x] or [0.0])
            below += f * r["requests"]
        if below >= q * total - 1e-9:
            return x
    return max(r["max_ms"] for r in rounds)


def commit_histogram(base):
    """reachd's reach_store_commit_seconds buckets as [(upper bound s, cumulative count)]."""
    out = []
    for k, v in metrics(base).items():
        m = re.match(r'reach_store_commit_seconds_bucket\{le="([^"]+)"\}$', k)
        if m:
            out.append((float("inf") if m.group(1) == "+Inf" else float(m.group(1)), int(v)))
    return sorted(out)


def final_count(base, status):
    return metric_sum(metrics(base), "reach_messages_final_total", 'status="%s"' % status)


# ---------------------------------------------------------------------------------------------
# Processes


class Proc:
    """A child process started with a ready file ({"http":..,...})."""

    def __init__(self, name, argv, workdir, ready=None, timeout=120.0):
        self.name = name
        self.log_path = os.path.join(workdir, name + ".log")
        self.ready_path = ready
        if ready and os.path.exists(ready):
            os.remove(ready)
        self.t_exec = time.monotonic()
        self.proc = subprocess.Popen(argv, stdout=open(self.log_path, "a"),
                                     stderr=subprocess.STDOUT, preexec_fn=raise_fd_limit)
        self.pid = self.proc.pid
        self.info = None
        self.ready_s = None
        if ready:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if os.path.exists(ready):
                    with open(ready) as f:
                        text = f.read()
                    if text.strip():
                        self.info = json.loads(text)
                        self.ready_s = time.monotonic() - self.t_exec
                        break
                if self.proc.poll() is not None:
                    raise RuntimeError("%s exited (%s) before it was ready; see %s" %
                                       (name, self.proc.returncode, self.log_path))
                time.sleep(0.002)
            else:
                raise TimeoutError("%s not ready after %.0f s" % (name, timeout))

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_json(argv, timeout):
    """Runs a bench tool that prints one JSON object on stdout."""
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                       preexec_fn=raise_fd_limit)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if not lines:
        raise RuntimeError("%s failed (%d): %s" % (argv[0], p.returncode, p.stderr[-2000:]))
    return json.loads(lines[-1])


# ---------------------------------------------------------------------------------------------
# The table


class Table:
    def __init__(self):
        self.rows = []

    def add(self, figure, result, ceiling="—", ratio="—", target="—", met=None, why=""):
        self.rows.append((figure, result, ceiling, ratio, target,
                          "—" if met is None else
                          ("yes" if met else "**no**" + (" (%s)" % why if why else ""))))

    def render(self):
        head = ("figure", "result", "ceiling (same run)", "ratio", "target", "met?")
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            lines.append("| " + " | ".join(str(c) for c in r) + " |")
        return "\n".join(lines)


def fmt_rate(v, unit="msg/s"):
    return "%s %s" % ("{:,.0f}".format(v), unit)


def ratio(a, b):
    return a / b if b else 0.0


# ---------------------------------------------------------------------------------------------


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.source = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
        self.scale = args.scale
        self.n = max(1000, int(1_000_000 * self.scale))
        self.email_n = max(2000, int(100_000 * self.scale))
        self.slow_n = max(10000, int(100_000 * self.scale))
        self.single_s = max(5.0, 30.0 * self.scale) if self.scale < 1 else 30.0
        self.wrk_s = 10 if self.scale >= 1 else 4
        self.bin = {
            "reachd": os.path.join(self.build, "gateway", "reachd"),
            "sim": os.path.join(self.build, "tests", "sim", "reach-sim"),
            "load": os.path.join(self.build, "bench", "reach-load"),
            "sqlite": os.path.join(self.build, "bench", "reach-sqlite-ceiling"),
            "trivial": os.path.join(self.build, "bench", "reach-trivial-server"),
        }
        base = args.workdir or os.path.join(self.build, "bench-run")
        os.makedirs(base, exist_ok=True)
        self.work = tempfile.mkdtemp(prefix="run_", dir=base)
        self.table = Table()
        self.extra = {}  # figures kept for the JSON dump
        self.procs = []
        self.sim = None
        self.sink = None

    # -- helpers -------------------------------------------------------------------------------

    def start(self, name, argv, ready=True, timeout=120.0):
        p = Proc(name, argv, self.work, os.path.join(self.work, name + ".ready") if ready else None,
                 timeout)
        self.procs.append(p)
        return p

    def stop(self, p):
        p.stop()
        if p in self.procs:
            self.procs.remove(p)

    def write_config(self, name, max_in_flight=4096, webhook_connections=256):
        tdir = os.path.join(self.source, "config", "templates")
        text = """# reachd config written by scripts/bench.py
server: {listen: "127.0.0.1:0", threads: %d, max_connections: 8192}
store: {data_dir: data, synchronous: full}
dispatch: {max_in_flight: %d, claim_batch: 512, poll_interval_ms: 50}
templates: {dir: %s, watch: false}
log: {level: warn}
channels:
  webhook:
    url: http://%s/webhook/bench
    secret: %s
    timeout_ms: 15000
    max_connections: %d
    retry: {max_attempts: 5, base_delay_ms: 1000, max_delay_ms: 10000, jitter: 0.2}
  email:
    url: smtp://127.0.0.1:%d
    from_address: noreply@reach.example
    from_name: Reach 通知
    message_id_domain: reach.example
    list_unsubscribe_url: https://reach.example/u/
    max_connections: 16
    engine: pipelining
    timeout_ms: 15000
    retry: {max_attempts: 5, base_delay_ms: 1000, max_delay_ms: 10000, jitter: 0.2}
""" % (HTTP_THREADS, max_in_flight, tdir, self.sim_addr, SECRET, webhook_connections, self.sink_port)
        path = os.path.join(self.work, name + ".yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def reachd(self, name, config, data_dir):
        p = self.start(name, [self.bin["reachd"], "--config", config, "--data-dir", data_dir,
                              "--listen", "127.0.0.1:0",
                              "--ready-file", os.path.join(self.work, name + ".ready")])
        p.base = "http://" + p.info["http"]
        return p

    def load(self, mode, url, timeout, **kw):
        argv = [self.bin["load"], mode, "--url", url]
        for k, v in kw.items():
            argv += ["--" + k.replace("_", "-"), str(v)]
        return run_json(argv, timeout)

    def wait_final(self, base, target, timeout, on_sample=None):
        """Polls /metrics until sent+failed reaches target. Returns (count, seconds, timed_out)."""
        t0 = time.monotonic()
        count = 0
        while True:
            m = metrics(base)
            sent = metric_sum(m, "reach_messages_final_total", 'status="sent"')
            failed = metric_sum(m, "reach_messages_final_total", 'status="failed"')
            count = sent + failed
            if on_sample:
                on_sample(m, count)
            if count >= target:
                return count, time.monotonic() - t0, False, failed
            if time.monotonic() - t0 > timeout:
                return count, time.monotonic() - t0, True, failed
            time.sleep(0.1)

    # -- phases --------------------------------------------------------------------------------

    def run(self):
        raise_fd_limit()
        log("work dir %s, scale %.3g: %d messages (e-mail %d, slow provider %d)" %
            (self.work, self.scale, self.n, self.email_n, self.slow_n))
        for b in ("reachd", "sim", "load", "sqlite", "trivial"):
            if not os.path.exists(self.bin[b]):
                raise SystemExit("bench: %s is missing; build first (make build)" % self.bin[b])
        t_all = time.monotonic()
        self.sim = self.start("reach-sim", [
            self.bin["sim"], "--http", "127.0.0.1:0", "--smtp", "127.0.0.1:0",
            "--webhook-secret", SECRET, "--record-limit", "1000", "--log-level", "warn",
            "--ready-file", os.path.join(self.work, "reach-sim.ready")])
        self.sim_addr = self.sim.info["http"]
        self.sim_base = "http://" + self.sim_addr
        self.sink_port = free_port()
        self.start_sink()
        try:
            self.phase_batch_enqueue()
            self.phase_single_enqueue()
            self.phase_dispatch()
            self.phase_slow_provider_and_email()
        finally:
            for p in list(self.procs):
                p.stop()
            if self.sink:
                self.sink.stop()
        self.extra["total_s"] = round(time.monotonic() - t_all, 1)
        return self.table

    def start_sink(self):
        sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        if not os.path.exists(sink):
            log("postfix's smtp-sink not found: e-mail goes to reach-sim's SMTP sink instead")
            self.sink_port = int(self.sim.info["smtp"].rsplit(":", 1)[1])
            self.sink_kind = "reach-sim SMTP sink"
            return
        argv = [sink, "-c", "-m", "1024"]
        if os.geteuid() == 0:
            argv += ["-u", "nobody"]
        argv += ["127.0.0.1:%d" % self.sink_port, "1024"]
        self.sink = Proc("smtp-sink", argv, self.work)
        self.sink_kind = "postfix smtp-sink"
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", self.sink_port), timeout=1):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("smtp-sink did not start; see %s" % self.sink.log_path)

    def phase_batch_enqueue(self):
        n = self.n
        log("batch enqueue ceiling: raw SQLite insert of %d rows, 1,000 per transaction" % n)
        ceil = run_json([self.bin["sqlite"], "--db", os.path.join(self.work, "ceiling.db"),
                         "--rows", str(n), "--per-txn", "1000", "--synchronous", "full"], 600)
        for suffix in ("", "-wal", "-shm"):
            try:
                os.remove(os.path.join(self.work, "ceiling.db" + suffix))
            except FileNotFoundError:
                pass
        self.data_dir = os.path.join(self.work, "data-main")
        self.config_main = self.write_config("reachd-main", webhook_connections=256)
        d = self.reachd("reachd-main", self.config_main, self.data_dir)
        self.main_startup_empty_s = d.ready_s
        time.sleep(1.0)
        self.idle_rss_kb = mem_kb(d.pid, "VmRSS")
        # Scheduled a day ahead, so the dispatcher leaves them queued: the dispatch figure then
        # starts from a full queue (see phase_dispatch).
        head = {"template": "welcome", "channels": ["webhook"], "category": "marketing",
                "send_at": rfc3339_ms(int(time.time() * 1000) + FUTURE_MS)}
        log("batch enqueue: %d messages, 1,000 per request, 8 connections" % n)
        cpu0 = cpu_s(d.pid)
        r = self.load("batch", d.base + "/v1/messages/batch", 1200, messages=n, batch=1000,
                      connections=8, head=json.dumps(head, ensure_ascii=False),
                      item='{"to":{"user_id":"u-{n}"},"vars":{"name":"n{n}"}}')
        cpu1 = cpu_s(d.pid)
        accepted = metric_sum(metrics(d.base), "reach_api_messages_accepted_total")
        self.enqueue_cpu_us = (cpu1 - cpu0) * 1e6 / max(1, r["messages"])
        time.sleep(1.0)
        self.queued_rss_kb = mem_kb(d.pid, "VmRSS")
        self.queued_hwm_kb = mem_kb(d.pid, "VmHWM")
        rate, c = r["msg_per_s"], ceil["rows_per_s"]
        ok = r["messages"] == n and r["errors"] == 0
        self.table.add("batch enqueue (1,000/request, %s msgs%s)" %
                       ("{:,}".format(n), "" if ok else ", %d errors" % r["errors"]),
                       fmt_rate(rate), fmt_rate(c, "rows/s") + " raw SQLite, synchronous=FULL",
                       "%.0f %%" % (100 * ratio(rate, c)), "≥ 150,000 msg/s and ≥ 50 %",
                       ok and rate >= 150000 and ratio(rate, c) >= 0.5)
        self.extra["batch"] = {"load": r, "ceiling": ceil, "accepted_metric": accepted}
        log("stopping reachd-main (graceful)")
        t0 = time.monotonic()
        self.stop(d)
        self.extra["stop_s"] = round(time.monotonic() - t0, 2)

    def wrk_posts(self, url, dur, body):
        """wrk, one thread and 64 keep-alive connections, POSTing `body` with each "{n}" replaced
        by a number unique to the request. Returns the load summary (rates, latency percentiles
        in ms, errors) or None without wrk.

        wrk rather than reach-load: the load generator shares the machine's two cores with the
        server, and wrk costs ~15 µs of CPU per request where reach-load (libcurl) costs ~29 µs,
        which left reachd less than a core. Both the ceiling and reachd get the same load."""
        wrk = shutil.which("wrk")
        if not wrk:
            return None
        u = urllib.parse.urlsplit(url)
        parts = body.split("{n}")
        expr = " .. id .. ".join("[==[%s]==]" % x for x in parts)
        lua = os.path.join(self.work, "wrk_single.lua")
        with open(lua, "w", encoding="utf-8") as f:
            f.write('''local threads = 0
local grid = {}
for p = 1, 89 do grid[#grid + 1] = p end
for i = 900, 998 do grid[#grid + 1] = i / 10 end
for i = 9990, 9999 do grid[#grid + 1] = i / 100 end
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
local n = 0
local headers = {["Content-Type"] = "application/json"}
function request()
  n = n + 1
  local id = tid .. "-" .. n
  return wrk.format("POST", "%s", headers, %s)
end
function done(summary, latency, requests)
  local e = summary.errors
  -- The latency distribution as quantiles (fine in the tail), so rounds can be pooled.
  local q = {}
  for _, p in ipairs(grid) do q[#q + 1] = string.format("[%%g,%%d]", p, latency:percentile(p)) end
  q[#q + 1] = string.format("[100,%%d]", latency.max)  -- percentile(100) answers 0
  io.write(string.format("WRKJSON {\\"requests\\":%%d,\\"seconds\\":%%.6f,\\"non2xx\\":%%d,"
    .. "\\"socket_errors\\":%%d,\\"p50_us\\":%%d,\\"p99_us\\":%%d,\\"p999_us\\":%%d,\\"max_us\\":%%d,"
    .. "\\"quantiles\\":[%%s]}\\n",
    summary.requests, summary.duration / 1e6, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max,
    table.concat(q, ",")))
end
''' % (u.path, expr))
        # One second of warm-up (connections, caches), not counted.
        subprocess.run([wrk, "-t1", "-c64", "-d1s", "-s", lua, url], capture_output=True,
                       text=True, timeout=60)
        p = subprocess.run([wrk, "-t1", "-c64", "-d%ds" % int(dur), "--timeout", "10s", "-s", lua,
                            url], capture_output=True, text=True, timeout=dur + 60)
        m = re.search(r"WRKJSON (\{.*\})", p.stdout)
        if not m:
            log("wrk failed: " + p.stdout + p.stderr)
            return None
        w = json.loads(m.group(1))
        secs = max(1e-9, w["seconds"])
        return {"requests": w["requests"], "seconds": secs, "req_per_s": w["requests"] / secs,
                "errors": w["non2xx"] + w["socket_errors"], "non2xx": w["non2xx"],
                "socket_errors": w["socket_errors"], "p50_ms": w["p50_us"] / 1000.0,
                "p99_ms": w["p99_us"] / 1000.0, "p999_ms": w["p999_us"] / 1000.0,
                "max_ms": w["max_us"] / 1000.0, "generator": "wrk",
                "quantiles": [(p / 100.0, us / 1000.0) for p, us in w["quantiles"]]}

    def fsync_latency(self, n=1000):
        """fdatasync after a 4 KiB append, as the store's group commit does, on the store's disk:
        a closed loop of 64 clients, each waiting for its commit, cannot beat 64 per sync."""
        path = os.path.join(self.work, "fsync.probe")
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        block, times = b"\0" * 4096, []
        try:
            for _ in range(n):
                os.write(fd, block)
                t0 = time.perf_counter()
                os.fdatasync(fd)
                times.append(time.perf_counter() - t0)
        finally:
            os.close(fd)
            os.remove(path)
        times.sort()
        return {"p50_us": times[len(times) // 2] * 1e6, "p99_us": times[int(len(times) * 0.99)] * 1e6}

    def phase_single_enqueue(self):
        dur = self.single_s
        body = json.dumps({"template": "welcome", "channels": ["webhook"], "category": "marketing",
                           "to": {"user_id": "s-{n}"}, "vars": {"name": "n{n}"},
                           "send_at": rfc3339_ms(int(time.time() * 1000) + FUTURE_MS)},
                          ensure_ascii=False)
        # The 30 s of each run in three rounds, the ceiling's and reachd's taking turns, so a
        # change in the machine's speed during the minute (a shared host; the disk's fsync
        # latency, which bounds a closed loop of 64 clients, moves most) hits both alike.
        rounds = 3
        per = max(2, int(round(dur / rounds)))

        def load(url):
            r = self.wrk_posts(url, per, body)
            if r is None:  # no wrk: reach-load does the same (at twice the CPU per request)
                r = self.load("single", url, per + 120, connections=64, duration_s=per,
                              warmup_s=1, body=body)
                r["generator"] = "reach-load"
            return r

        def combine(rs):
            reqs = sum(r["requests"] for r in rs)
            secs = sum(r["seconds"] for r in rs)
            out = {"requests": reqs, "seconds": secs, "req_per_s": reqs / max(1e-9, secs),
                   "errors": sum(r["errors"] for r in rs), "generator": rs[0]["generator"],
                   "rounds": [round(r["req_per_s"]) for r in rs],
                   "round_p99_ms": [r["p99_ms"] for r in rs],
                   "max_ms": max(r["max_ms"] for r in rs)}
            if all("quantiles" in r for r in rs):  # wrk: the rounds pooled, as one 30 s run
                for k, q in (("p50_ms", 0.5), ("p99_ms", 0.99), ("p999_ms", 0.999)):
                    out[k] = pooled_quantile(rs, q)
            else:  # reach-load reports percentiles only: the worst round's
                for k in ("p50_ms", "p99_ms", "p999_ms"):
                    out[k] = max(r[k] for r in rs)
            return out

        os.sync()  # the batch figure's writes must not be flushed during this one
        fsync = self.fsync_latency()
        log("single enqueue: POST /v1/messages, 64 connections, %d rounds of %d s, taking turns "
            "with two ceilings (reachd's HTTP server with a no-op handler; the same server "
            "answering after a group fdatasync of the bodies)" % (rounds, per))
        t = self.start("trivial", [self.bin["trivial"], "--listen", "127.0.0.1:0", "--threads",
                                   str(HTTP_THREADS), "--ready-file",
                                   os.path.join(self.work, "trivial.ready")])
        ring = os.path.join(self.work, "durable.ring")
        dur_srv = self.start("durable", [self.bin["trivial"], "--listen", "127.0.0.1:0",
                                         "--threads", str(HTTP_THREADS), "--durable", ring,
                                         "--ready-file", os.path.join(self.work, "durable.ready")])
        data = os.path.join(self.work, "data-single")
        d = self.reachd("reachd-single", self.config_main, data)
        ceil_rounds, durable_rounds, rounds_r = [], [], []
        cpu_s_total = 0.0
        commits0 = commit_histogram(d.base)
        for _ in range(rounds):
            ceil_rounds.append(load("http://%s/v1/messages" % t.info["http"]))
            durable_rounds.append(load("http://%s/v1/messages" % dur_srv.info["http"]))
            cpu0 = cpu_s(d.pid)
            rounds_r.append(load(d.base + "/v1/messages"))
            cpu_s_total += cpu_s(d.pid) - cpu0
        commits1 = commit_histogram(d.base)
        self.stop(t)
        self.stop(dur_srv)
        self.stop(d)
        if os.path.exists(ring):
            os.remove(ring)
        ceil, dceil, r = combine(ceil_rounds), combine(durable_rounds), combine(rounds_r)
        # reachd's syncs of the WAL over the rounds (warm-ups included; each makes every group
        # commit before it durable): how many, how many took over 25 ms, and the bucket of the
        # slowest. A sync stalled S ms holds every one of the
        # 64 clients for S ms; wrk then also counts the requests they would have sent meanwhile
        # (its coordinated-omission correction), so one 200 ms stall is ~6,400 slow samples.
        per_bucket = []
        prev = 0
        for (le, c1), (_, c0) in zip(commits1, commits0):
            per_bucket.append((le, (c1 - c0) - prev))
            prev = c1 - c0
        n_commits = prev
        slow = sum(n for le, n in per_bucket if le > 0.025)
        slowest = max([le for le, n in per_bucket if n > 0] or [0.0])
        prev_le = max([le for le, _ in per_bucket if le < slowest] or [0.0])
        # Every 202 meant a committed row: the store must hold at least as many messages as
        # answers were counted (the warm-up seconds add more).
        db = sqlite3.connect(os.path.join(data, "reach.db"))
        stored = db.execute("SELECT count(*) FROM messages").fetchone()[0]
        db.close()
        shutil.rmtree(data, ignore_errors=True)
        # CPU over the measured rounds and their warm-ups, per stored message.
        self.single_cpu_us = cpu_s_total * 1e6 / max(1, stored)
        lost = max(0, r["requests"] - r["errors"] - stored)
        rate, c = r["req_per_s"], ceil["req_per_s"]
        slowest_txt = ("over %g s" % prev_le if slowest == float("inf") else
                       "%g–%g ms" % (prev_le * 1000, slowest * 1000))
        self.table.add("single enqueue (64 conns, %d × %d s, %s; each 202 after commit)" %
                       (rounds, per, r["generator"]),
                       "%s (rounds %s), p50 %.2f / p99 %.2f / p99.9 %.2f ms (rounds' p99 %s); "
                       "%s syncs, %d over 25 ms, slowest %s%s%s" %
                       (fmt_rate(rate), " / ".join("{:,}".format(x) for x in r["rounds"]),
                        r["p50_ms"], r["p99_ms"], r["p999_ms"],
                        " / ".join("%.1f" % x for x in r["round_p99_ms"]),
                        "{:,}".format(n_commits), slow, slowest_txt,
                        "" if r["errors"] == 0 else ", %d errors" % r["errors"],
                        "" if lost == 0 else ", %d answered but not stored" % lost),
                       "no-op handler %s, p99 %.2f ms; after a group fdatasync of the bodies "
                       "(no SQLite) %s, p99 %.2f ms (rounds' p99 %s); the disk's fdatasync "
                       "p50 %.0f / p99 %.0f µs" %
                       (fmt_rate(c), ceil["p99_ms"], fmt_rate(dceil["req_per_s"]),
                        dceil["p99_ms"], " / ".join("%.1f" % x for x in dceil["round_p99_ms"]),
                        fsync["p50_us"], fsync["p99_us"]),
                       "%.0f %% (%.0f %% of the disk's)" %
                       (100 * ratio(rate, c), 100 * ratio(rate, dceil["req_per_s"])),
                       "≥ 30,000 msg/s, p99 ≤ 10 ms",
                       r["errors"] == 0 and lost == 0 and rate >= 30000 and r["p99_ms"] <= 10,
                       # Said, not excused: the verdict stays reachd's own.
                       why="; ".join(w for w, both in (
                           ("the disk's own ceiling missed p99 ≤ 10 ms too",
                            r["p99_ms"] > 10 and dceil["p99_ms"] > 10),
                           ("the disk's own ceiling ran under 30,000 msg/s too",
                            rate < 30000 and dceil["req_per_s"] < 30000)) if both))
        self.extra["single"] = {"load": r, "ceiling": ceil, "durable_ceiling": dceil,
                                "stored": stored, "fsync": fsync, "rounds": rounds_r,
                                "ceiling_rounds": ceil_rounds, "durable_rounds": durable_rounds,
                                "commits": {"count": n_commits, "over_25ms": slow,
                                            "buckets": per_bucket}}

    def wrk_ceiling(self):
        """wrk against the simulator's webhook endpoint, one request signed now (valid 5 min)."""
        wrk = shutil.which("wrk")
        if not wrk:
            return None
        body = ('{"type":"message","id":"msg_wrk","template":"welcome","channel":"webhook",'
                '"category":"marketing","data":{"event":"user.welcome","name":"李雷",'
                '"text":"欢迎, 李雷!"},"to":{"user_id":"u-1"},"metadata":{}}')
        ts = str(int(time.time()))
        key = base64.b64decode(SECRET[len("whsec_"):])
        sig = base64.b64encode(hmac.new(key, ("msg_wrk.%s.%s" % (ts, body)).encode(),
                                        hashlib.sha256).digest()).decode()
        lua = os.path.join(self.work, "wrk_webhook.lua")
        with open(lua, "w", encoding="utf-8") as f:
            f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                    'wrk.headers["webhook-id"] = "msg_wrk"\nwrk.headers["webhook-timestamp"] = "%s"\n'
                    'wrk.headers["webhook-signature"] = "v1,%s"\nwrk.body = [[%s]]\n' %
                    (ts, sig, body))
        p = subprocess.run([wrk, "-t1", "-c64", "-d%ds" % self.wrk_s, "-s", lua,
                            self.sim_base + "/webhook/bench"], capture_output=True, text=True,
                           timeout=self.wrk_s + 60)
        m = re.search(r"Requests/sec:\s*([\d.]+)", p.stdout)
        non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", p.stdout)
        if not m:
            log("wrk failed: " + p.stdout + p.stderr)
            return None
        if non2xx:
            log("wrk: %s non-2xx answers (signature rejected?)" % non2xx.group(1))
        return float(m.group(1))

    def phase_dispatch(self):
        n = self.n
        os.sync()  # start from clean page cache writeback (the enqueue figures wrote ~1 GB)
        log("dispatch ceilings: wrk and a bare libcurl-multi client -> reach-sim webhook")
        wrk_rate = self.wrk_ceiling()
        bare = self.load("webhook", self.sim_base + "/webhook/bench", 600,
                         messages=max(20000, n // 5), connections=256, secret=SECRET)
        http("POST", self.sim_base + "/_sim/reset", {})
        # Make the queued batch due now (the batch figure scheduled it a day ahead), offline.
        log("making the %d queued messages due" % n)
        db = sqlite3.connect(os.path.join(self.data_dir, "reach.db"))
        now_ms = int(time.time() * 1000)
        with db:
            db.execute("UPDATE messages SET due_at=?, scheduled=0 WHERE status=0", (now_ms,))
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
        log("dispatch: restarting reachd with %d messages queued" % n)
        d = self.reachd("reachd-main", self.config_main, self.data_dir)
        startup_s = d.ready_s
        cpu0 = cpu_s(d.pid)
        sim0 = http("GET", self.sim_base + "/_sim/stats")[1]["webhook"]["received"]
        probes = OtpProbes(d.base, count=100)
        probes.start()
        peak_rss = [0]

        def sample(m, count):
            probes.backlog = n - count
            peak_rss[0] = max(peak_rss[0], mem_kb(d.pid, "VmRSS"))

        count, secs, timed_out, failed = self.wait_final(d.base, n, timeout=max(120, n / 2000),
                                                         on_sample=sample)
        cpu1 = cpu_s(d.pid)
        probes.backlog = 0
        probes.join()
        hwm = mem_kb(d.pid, "VmHWM")
        sim1 = http("GET", self.sim_base + "/_sim/stats")[1]["webhook"]
        rate = count / secs
        self.dispatch_cpu_us = (cpu1 - cpu0) * 1e6 / max(1, count)
        c = bare["msg_per_s"]
        self.table.add("dispatch (%s queued webhook msgs, sim answers at once)%s" %
                       ("{:,}".format(n), " TIMED OUT" if timed_out else ""),
                       fmt_rate(rate) + ("" if not failed else ", %d failed" % failed),
                       "bare libcurl multi %s; wrk %s" %
                       (fmt_rate(c), fmt_rate(wrk_rate, "req/s") if wrk_rate else "n/a"),
                       "%.0f %% of libcurl" % (100 * ratio(rate, c)),
                       "≥ 25,000 msg/s, ≥ 50 % of libcurl",
                       not timed_out and rate >= 25000 and ratio(rate, c) >= 0.5)
        lat = probes.latencies(with_backlog=True)
        allp = probes.latencies(with_backlog=False)
        if lat:
            p99 = percentile(lat, 99)
            self.table.add("OTP under load (behind %s marketing; %d of %d probes while backlog "
                           "> 0)" % ("{:,}".format(n), len(lat), len(allp)),
                           "p50 %.0f ms, p99 %.0f ms, max %.0f ms" %
                           (percentile(lat, 50) * 1000, p99 * 1000, max(lat) * 1000),
                           target="sent within 1 s (p99 over 100)", met=p99 <= 1.0 and
                           len(lat) >= 100)
        else:
            self.table.add("OTP under load", "no probe finished while the backlog lasted "
                           "(%d probes in all)" % len(allp), target="sent within 1 s", met=False)
        self.table.add("start-up to ready with %s queued" % "{:,}".format(n),
                       "%.0f ms (empty store: %.0f ms)" % (startup_s * 1000,
                                                           self.main_startup_empty_s * 1000),
                       target="≤ 1 s", met=startup_s <= 1.0)
        self.table.add("memory (RSS)", "idle %.1f MB; %s queued %.1f MB; peak dispatch %.1f MB"
                       % (self.idle_rss_kb / 1024, "{:,}".format(n), self.queued_rss_kb / 1024,
                          hwm / 1024),
                       target="≤ 50 MB idle, ≤ 300 MB with 1M queued",
                       met=self.idle_rss_kb <= 50 * 1024 and self.queued_rss_kb <= 300 * 1024)
        self.table.add("CPU per message (reachd utime+stime)",
                       "batch enqueue %.1f µs; single enqueue %.1f µs; dispatch %.1f µs" %
                       (self.enqueue_cpu_us, self.single_cpu_us, self.dispatch_cpu_us))
        self.extra["dispatch"] = {"count": count, "seconds": secs, "failed": failed,
                                  "sim_received": sim1["received"] - sim0, "sim": sim1,
                                  "bare": bare, "wrk": wrk_rate, "startup_s": startup_s,
                                  "peak_rss_sampled_kb": peak_rss[0], "hwm_kb": hwm,
                                  "otp_all_s": allp}
        self.stop(d)

    def phase_slow_provider_and_email(self):
        in_flight = 4096
        os.sync()
        config = self.write_config("reachd-slow", max_in_flight=in_flight,
                                   webhook_connections=in_flight)
        d = self.reachd("reachd-slow", config, self.data_dir)
        base0 = final_count(d.base, "sent") + final_count(d.base, "failed")
        # -- slow provider
        http("POST", self.sim_base + "/_sim/faults", {"endpoint": "webhook", "delay_ms": 200})
        n = self.slow_n
        # What a bare libcurl-multi client gets from the same delayed endpoint with as many
        # connections: the theoretical ceiling (in flight ÷ 0.2 s) assumes a peer that answers
        # 4,096 open requests each exactly 200 ms later.
        bare = self.load("webhook", self.sim_base + "/webhook/bench", 600,
                         messages=max(8192, n // 2), connections=in_flight, secret=SECRET)
        log("slow provider: %d webhook messages, simulator answers after 200 ms, %d in flight" %
            (n, in_flight))
        self.load("batch", d.base + "/v1/messages/batch", 600, messages=n, batch=1000,
                  connections=4, head='{"template":"welcome","channels":["webhook"],'
                  '"category":"marketing"}',
                  item='{"to":{"user_id":"slow-{n}"},"vars":{"name":"n{n}"}}')
        peak = [0]

        def sample(m, count):
            peak[0] = max(peak[0], metric_sum(m, "reach_dispatch_in_flight"))

        t_start = time.monotonic()
        c0 = final_count(d.base, "sent") + final_count(d.base, "failed") - base0
        count, secs, timed_out, failed = self.wait_final(d.base, base0 + n,
                                                         timeout=max(120, n / 500),
                                                         on_sample=sample)
        rate = (count - base0 - c0) / max(1e-6, time.monotonic() - t_start)
        http("DELETE", self.sim_base + "/_sim/faults")
        c = in_flight / 0.2
        self.table.add("slow provider (%s msgs, sim answers after 200 ms)%s" %
                       ("{:,}".format(n), " TIMED OUT" if timed_out else ""),
                       "%s, peak %d in flight" % (fmt_rate(rate), peak[0]),
                       "%s (%d in flight ÷ 0.2 s); bare libcurl multi, %d connections: %s" %
                       (fmt_rate(c), in_flight, in_flight, fmt_rate(bare["req_per_s"])),
                       "%.0f %%" % (100 * ratio(rate, c)), "≥ 5,000 msg/s",
                       not timed_out and rate >= 5000)
        self.extra["slow"] = {"bare_libcurl": bare, "count": count - base0, "seconds": secs,
                              "failed": failed,
                              "peak_in_flight": peak[0]}
        # -- e-mail
        n = self.email_n
        src = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
        src_rate = None
        if self.sink and os.path.exists(src):
            log("e-mail ceiling: smtp-source, 20 sessions, reused connections, %d msgs" % n)
            t0 = time.monotonic()
            subprocess.run([src, "-s", "20", "-d", "-m", str(n), "-l", "1500", "-f",
                            "noreply@reach.example", "-t", "bench@example.com",
                            "127.0.0.1:%d" % self.sink_port], check=True, timeout=600,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            src_rate = n / (time.monotonic() - t0)
        # Postfix fsyncs every queue file (a few hundred to ~1k msg/s here): a sample of up to
        # 20,000 is enough.
        relay_n = min(n, 20000)
        relay_rate = self.postfix_relay(relay_n) if self.args.postfix_relay else None
        log("e-mail: %d messages through reachd to %s" % (n, self.sink_kind))
        base1 = final_count(d.base, "sent") + final_count(d.base, "failed")
        cpu0 = cpu_s(d.pid)
        t0 = time.monotonic()
        self.load("batch", d.base + "/v1/messages/batch", 600, messages=n, batch=1000,
                  connections=4, head='{"template":"welcome","channels":["email"],'
                  '"category":"marketing"}',
                  item='{"to":{"email":"u{n}@example.com"},"vars":{"name":"n{n}"}}')
        count, secs, timed_out, failed = self.wait_final(d.base, base1 + n,
                                                         timeout=max(120, n / 300))
        secs = time.monotonic() - t0
        cpu1 = cpu_s(d.pid)
        rate = (count - base1) / secs
        ceiling = []
        if src_rate:
            ceiling.append("smtp-source %s" % fmt_rate(src_rate))
        if relay_rate:
            ceiling.append("postfix relay %s (%s-msg sample)" % (fmt_rate(relay_rate),
                                                                 "{:,}".format(relay_n)))
        else:
            ceiling.append("postfix relay not measured")
        target_ok = not timed_out and rate >= 5000 and (relay_rate is None or
                                                        rate >= relay_rate)
        self.table.add("e-mail (%s msgs to %s, enqueue included)%s" %
                       ("{:,}".format(n), self.sink_kind, " TIMED OUT" if timed_out else ""),
                       fmt_rate(rate) + ("" if not failed else ", %d failed" % failed),
                       "; ".join(ceiling),
                       ("%.2f × relay" % ratio(rate, relay_rate)) if relay_rate else
                       ("%.0f %% of smtp-source" % (100 * ratio(rate, src_rate))
                        if src_rate else "—"),
                       "≥ 5,000 msg/s and ≥ 1.0 × postfix relay", target_ok)
        self.extra["email"] = {"count": count - base1, "seconds": secs, "failed": failed,
                               "cpu_us": (cpu1 - cpu0) * 1e6 / max(1, count - base1),
                               "smtp_source": src_rate, "relay": relay_rate}
        self.stop(d)

    def postfix_relay(self, n):
        """Postfix relaying the same number of messages to the same sink (private instance)."""
        relay = PostfixRelay(self.work, self.sink_port)
        try:
            rate = relay.run(n)
        except Exception as e:  # noqa: BLE001 - the ceiling is optional; say why it is missing
            log("postfix relay ceiling not measured: %s" % e)
            return None
        self.extra["postfix_relay"] = dict(relay.stats, rate=rate)
        return rate

    def run_single_only(self):
        """--only single: the single-enqueue figure and its ceiling, nothing else."""
        raise_fd_limit()
        t_all = time.monotonic()
        self.sim = self.start("reach-sim", [
            self.bin["sim"], "--http", "127.0.0.1:0", "--smtp", "127.0.0.1:0",
            "--webhook-secret", SECRET, "--log-level", "warn",
            "--ready-file", os.path.join(self.work, "reach-sim.ready")])
        self.sim_addr = self.sim.info["http"]
        self.sim_base = "http://" + self.sim_addr
        self.sink_port = free_port()  # unused: nothing is sent in this figure
        self.config_main = self.write_config("reachd-main", webhook_connections=256)
        try:
            self.phase_single_enqueue()
        finally:
            for p in list(self.procs):
                p.stop()
        self.extra["total_s"] = round(time.monotonic() - t_all, 1)
        return self.table

    def run_postfix_relay_only(self):
        """--only postfix-relay: the smtp-sink and the postfix relay ceiling, nothing else."""
        raise_fd_limit()
        t_all = time.monotonic()
        self.sim = None
        self.sink_port = free_port()
        self.start_sink()
        n = min(self.email_n, 20000)
        try:
            if not self.sink:
                raise SystemExit("bench: --only postfix-relay needs postfix's smtp-sink")
            rate = self.postfix_relay(n)
        finally:
            if self.sink:
                self.sink.stop()
        self.table.add("postfix relay (%s msgs, smtp-source %d sessions, to %s)" %
                       ("{:,}".format(n), PostfixRelay.SESSIONS, self.sink_kind),
                       fmt_rate(rate) if rate else "not measured")
        self.extra["total_s"] = round(time.monotonic() - t_all, 1)
        if not rate:
            raise SystemExit("bench: postfix relay ceiling not measured (see the log above)")
        return self.table


def percentile(values, p):
    v = sorted(values)
    if not v:
        return 0.0
    k = min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))
    return v[k]


class OtpProbes(threading.Thread):
    """Enqueues `count` otp messages while the marketing backlog drains; times 202 → sent.

    At most `parallel` probes are open at once, each polling GET /v1/messages/ID every 10 ms, so
    the probing itself adds at most a few hundred requests a second to reachd's load.
    """

    def __init__(self, base, count, parallel=4):
        super().__init__(daemon=True)
        self.base = base
        self.count = count
        self.parallel = parallel
        self.backlog = 1 << 62  # set by the dispatch poller; 0 once drained
        self.results = []  # (seconds, backlog_left_when_sent)
        self.lock = threading.Lock()
        self.next = 0

    def probe(self, i):
        body = {"template": "welcome", "channels": ["webhook"], "category": "otp",
                "to": {"user_id": "otp-%d" % i}, "vars": {"name": "otp"}}
        status, r = http("POST", self.base + "/v1/messages", body)
        t202 = time.monotonic()
        if status != 202:
            return
        while time.monotonic() - t202 < 30:
            status, m = http("GET", self.base + "/v1/messages/" + r["id"])
            if status == 200 and m["status"] in ("sent", "failed", "delivered"):
                with self.lock:
                    self.results.append((time.monotonic() - t202, self.backlog))
                return
            time.sleep(0.01)

    def worker(self):
        while self.backlog > 0:
            with self.lock:
                i = self.next
                self.next += 1
            if i >= self.count:
                return
            self.probe(i)
            time.sleep(0.02)

    def run(self):
        time.sleep(0.3)  # let the dispatcher get going
        workers = [threading.Thread(target=self.worker, daemon=True) for _ in range(self.parallel)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()

    def latencies(self, with_backlog):
        with self.lock:
            return [s for s, left in self.results if left > 0 or not with_backlog]


class PostfixRelay:
    """A private postfix instance (own config, queue and port) relaying to the smtp-sink.

    smtp-source hands it `n` messages over SMTP (`sessions` sessions, connections reused); the
    figure is n ÷ the time from smtp-source's start until postfix's log shows all n delivered
    (status=sent, relay=127.0.0.1:SINK) and its queue is empty: accepted, fsynced, relayed.

    It only reads the system's postfix files: no `postfix set-permissions` (for an instance that is
    not listed in the default main.cf's multi_instance_directories, which the bench must not edit,
    that re-chowns and re-chmods the shared files: /usr/sbin/postdrop, /etc/postfix/postfix-files,
    ...). `postfix start-fg` creates the missing queue directories itself (post-install
    create-missing, which only creates what is missing). Its daemons run as mail_owner and open
    files below queue_directory and data_directory after dropping root, so every parent directory
    must be searchable by that user (mkdtemp makes the bench's work folder 0700: "fatal: open lock
    file .../data/master.lock: Permission denied" was the symptom). All its processes carry
    MAIL_CONFIG=<its own config directory> in their environment; stop() waits for every one of
    them to be gone and kills stragglers, so nothing of it outlives the bench.
    """

    SERVICES = """\
# master.cf written by scripts/bench.py (chroot off: the private queue has no etc/ copies)
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

    SESSIONS = 20

    def __init__(self, work, sink_port, sessions=SESSIONS):
        self.dir = os.path.join(work, "postfix")
        self.etc = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "queue")
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "postfix.log")
        self.sink_port = sink_port
        self.sessions = sessions
        self.port = free_port()
        self.postfix = shutil.which("postfix") or "/usr/sbin/postfix"
        self.postconf = shutil.which("postconf") or "/usr/sbin/postconf"
        self.env = dict(os.environ, MAIL_CONFIG=self.etc)
        self.master = None
        self.pgid = None
        self.subreaper = False
        self.stats = {}

    def setup(self):
        if os.geteuid() != 0:
            raise RuntimeError("needs root to run a private postfix instance")
        if not os.path.exists(self.postfix):
            raise RuntimeError("postfix is not installed")
        owner = "postfix"
        pw = pwd.getpwnam(owner)  # KeyError: no postfix user
        # The default instance's main.cf (if any) is read, never written. start-fg refuses to run
        # when it declares multi_instance_directories.
        default_main = "/etc/postfix/main.cf"
        if os.path.exists(default_main):
            p = subprocess.run([self.postconf, "-c", "/etc/postfix",
                                "-h", "multi_instance_directories", "mail_owner"],
                               capture_output=True, text=True, timeout=30)
            lines = p.stdout.splitlines()
            if lines and lines[0].strip():
                raise RuntimeError("%s sets multi_instance_directories; postfix start-fg "
                                   "refuses a private instance then" % default_main)
            if len(lines) > 1 and lines[1].strip():
                owner = lines[1].strip()
                pw = pwd.getpwnam(owner)
        os.makedirs(self.etc, mode=0o755)
        os.chmod(self.dir, 0o755)
        os.chmod(self.etc, 0o755)
        os.mkdir(self.queue, 0o755)
        os.chmod(self.queue, 0o755)
        os.mkdir(self.data, 0o700)
        os.chown(self.data, pw.pw_uid, pw.pw_gid)
        # The mail owner must be able to reach the queue and data directories: grant search (not
        # read) permission on the bench's work folder (mkdtemp made it 0700), then check as that
        # user, which also covers the folders above it.
        work = os.path.dirname(self.dir)
        os.chmod(work, (os.stat(work).st_mode & 0o7777) | 0o111)
        probe = subprocess.run(["/bin/sh", "-c", 'cd "$1" && cd "$2"', "sh", self.queue, self.data],
                               user=pw.pw_uid, group=pw.pw_gid, extra_groups=[],
                               capture_output=True, text=True, timeout=30)
        if probe.returncode != 0:
            raise RuntimeError("%s cannot reach %s (%s): put the work folder where it can "
                               "(BENCH_WORKDIR)" % (owner, self.dir, probe.stderr.strip()))
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write("""# main.cf written by scripts/bench.py: relay everything to the smtp-sink, nothing else
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
mail_owner = {owner}
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = relay.bench.localdomain
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relay_domains =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
relayhost = [127.0.0.1]:{sink}
default_transport = smtp:[127.0.0.1]:{sink}
relay_transport = smtp:[127.0.0.1]:{sink}
smtp_fallback_relay =
smtp_tls_security_level = none
default_destination_concurrency_limit = 20
smtp_destination_concurrency_limit = 20
smtp_connection_cache_on_demand = yes
maillog_file = /dev/stdout
biff = no
append_dot_mydomain = no
""".format(queue=self.queue, data=self.data, owner=owner, sink=self.sink_port))
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(self.SERVICES.format(port=self.port))
        check = subprocess.run([self.postconf, "-c", self.etc, "-n"],
                               env=self.env, capture_output=True, text=True, timeout=30)
        if check.returncode != 0 or "warning" in check.stderr:
            raise RuntimeError("postconf rejects %s/main.cf: %s" % (self.etc, check.stderr.strip()))

    def start(self):
        # start-fg keeps postfix's master in the foreground (postfix-script waits for
        # `master -s`, which makes itself a session and process group leader), a child we own and
        # log. Its daemons outlive it by a moment: as a child subreaper the bench inherits them
        # instead of PID 1 and reaps them in stop() (by process group), leaving no zombies behind.
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            self.subreaper = libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
        except (OSError, AttributeError):
            self.subreaper = False
        self.master = subprocess.Popen([self.postfix, "-c", self.etc, "start-fg"], env=self.env,
                                       stdin=subprocess.DEVNULL,
                                       stdout=open(self.log_path, "a"),
                                       stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            if self.master.poll() is not None:
                raise RuntimeError("postfix exited (%s): %s; see %s" % (
                    self.master.returncode, self.log_tail(), self.log_path))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                    self.pgid = int(f.read().strip())
                return
            except (OSError, ValueError):
                if time.monotonic() > deadline:
                    raise RuntimeError("postfix did not listen; see %s" % self.log_path)
                time.sleep(0.02)

    def log_tail(self):
        try:
            with open(self.log_path, errors="replace") as f:
                lines = [l.strip() for l in f if "fatal" in l or "error" in l]
            return lines[-1] if lines else "no error logged"
        except OSError:
            return "no log"

    def run(self, n):
        try:
            self.setup()
            self.start()
            return self.measure(n)
        finally:
            self.stop()

    def measure(self, n):
        src = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
        if not os.path.exists(src):
            raise RuntimeError("smtp-source is not installed")
        sent_re = re.compile(r" relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, .* status=sent " %
                             self.sink_port)
        bad_re = re.compile(r"status=(?!sent)\w+|postfix/\w+\[\d+\]: (fatal|panic):")
        log_f = open(self.log_path, errors="replace")
        log_f.seek(0, os.SEEK_END)
        sent, partial = 0, ""
        log("e-mail ceiling: postfix relay, %d msgs from smtp-source (%d sessions) to the sink" %
            (n, self.sessions))
        t0 = time.monotonic()
        p = subprocess.run([src, "-s", str(self.sessions), "-d", "-m", str(n), "-l", "1500",
                            "-f", "noreply@reach.example", "-t", "bench@example.com",
                            "127.0.0.1:%d" % self.port], timeout=900,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        t_accepted = time.monotonic()
        if p.returncode != 0:
            raise RuntimeError("smtp-source failed (%d): %s" % (p.returncode, p.stderr[-500:]))
        # All n are in postfix's queue (smtpd answers 250 after cleanup fsynced the file); now
        # wait until the log shows each delivered to the sink and the queue is empty.
        deadline = time.monotonic() + 900
        while True:
            chunk = log_f.read()
            if chunk:
                lines = (partial + chunk).split("\n")
                partial = lines.pop()
                for line in lines:
                    if sent_re.search(line):
                        sent += 1
                    elif bad_re.search(line):
                        raise RuntimeError("postfix: %s" % line.strip())
            if sent >= n and self.queue_empty(self.queue):
                break
            if self.master.poll() is not None:
                raise RuntimeError("postfix exited while relaying; see %s" % self.log_path)
            if time.monotonic() > deadline:
                raise RuntimeError("postfix relayed %d of %d in 900 s" % (sent, n))
            time.sleep(0.01)
        t_end = time.monotonic()
        log_f.close()
        if sent != n:
            raise RuntimeError("postfix delivered %d messages for %d accepted" % (sent, n))
        self.stats = {"n": n, "sessions": self.sessions, "accept_s": round(t_accepted - t0, 3),
                      "total_s": round(t_end - t0, 3)}
        log("postfix relay: %d accepted in %.2f s, all at the sink after %.2f s" %
            (n, t_accepted - t0, t_end - t0))
        return n / (t_end - t0)

    def instance_pids(self):
        """Live processes of this instance: MAIL_CONFIG=<our etc> is in each one's environment."""
        mark = ("MAIL_CONFIG=%s" % self.etc).encode()
        pids = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/environ" % d, "rb") as f:
                    if mark not in f.read().split(b"\0"):
                        continue
                with open("/proc/%s/stat" % d) as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        continue
            except OSError:
                continue
            pids.append(int(d))
        return pids

    def stop(self):
        if self.master is None:
            return
        if self.master.poll() is None or self.instance_pids():
            subprocess.run([self.postfix, "-c", self.etc, "stop"], env=self.env,
                           capture_output=True, timeout=60)
        try:
            self.master.wait(30)
        except subprocess.TimeoutExpired:
            self.master.kill()
            self.master.wait()
        # The master's children (and the master, if `postfix stop` failed) may outlive it.
        deadline = time.monotonic() + 10
        while True:
            self.reap()
            pids = self.instance_pids()
            if not pids:
                self.reap(wait_s=2)
                return
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            time.sleep(1)
            self.reap()
            pids = self.instance_pids()
            if not pids:
                self.reap(wait_s=2)
                return
        raise RuntimeError("postfix processes %s survived SIGKILL" % pids)

    def reap(self, wait_s=0.0):
        """Reaps the exited daemons re-parented to us (their process group is the master's)."""
        if not (self.subreaper and self.pgid):
            return
        deadline = time.monotonic() + wait_s
        while True:
            try:
                pid, _ = os.waitpid(-self.pgid, os.WNOHANG)
            except ChildProcessError:
                return  # none of our children is left in that group
            if pid == 0:
                if time.monotonic() >= deadline:
                    return
                time.sleep(0.02)

    @staticmethod
    def queue_empty(queue):
        for sub in ("maildrop", "incoming", "active", "deferred", "hold"):
            for _root, _dirs, files in os.walk(os.path.join(queue, sub)):
                if files:
                    return False
        return True


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb_total = int(f.readline().split()[1])
    return "%d cores (%s), %.0f GiB RAM" % (os.cpu_count(), cpu, mem_kb_total / 1024 / 1024)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default="build")
    ap.add_argument("--scale", type=float, default=float(os.environ.get("BENCH_SCALE", "1")))
    ap.add_argument("--workdir", default=os.environ.get("BENCH_WORKDIR"))
    ap.add_argument("--keep", action="store_true", default=os.environ.get("BENCH_KEEP") == "1",
                    help="keep the work folder (logs, store)")
    ap.add_argument("--no-postfix-relay", dest="postfix_relay", action="store_false",
                    default=os.environ.get("BENCH_POSTFIX_RELAY", "1") != "0")
    ap.add_argument("--only", choices=["postfix-relay", "single"],
                    help="postfix-relay: only the smtp-sink and the postfix relay ceiling "
                    "(min(20,000, 100,000 x scale) messages); single: only the single-enqueue "
                    "figure and its ceiling")
    args = ap.parse_args()
    # SIGTERM/SIGHUP unwind like Ctrl-C, so the finally blocks stop every child (postfix too).
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    b = Bench(args)
    try:
        if args.only == "postfix-relay":
            table = b.run_postfix_relay_only()
        elif args.only == "single":
            table = b.run_single_only()
        else:
            table = b.run()
    finally:
        with open(os.path.join(b.work, "results.json"), "w") as f:
            json.dump(b.extra, f, indent=1, default=str)
        if not args.keep:
            shutil.rmtree(b.work, ignore_errors=True)
        else:
            log("kept %s" % b.work)
    print()
    print("Reach end-to-end benchmark%s, %s, scale %g (%s messages), %s" %
          (" (--only %s)" % args.only if args.only else "", time.strftime("%Y-%m-%d %H:%M %Z"),
           args.scale, "{:,}".format(b.n), machine()))
    print("Took %.0f s.\n" % b.extra.get("total_s", 0))
    print(table.render())
    print()


if __name__ == "__main__":
    main()
