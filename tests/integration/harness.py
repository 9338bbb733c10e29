"""Test harness: starts reach-sim and reachd on ephemeral loopback ports with throwaway data.

Run by ctest with /usr/bin/python3 (Debian's python3-aiosmtpd is importable there).
REACH_BUILD_DIR points at the CMake build folder; REACH_SOURCE_DIR at the repository.
"""
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

BUILD = os.environ.get("REACH_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
SOURCE = os.environ.get("REACH_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
REACHD = os.path.join(BUILD, "gateway", "reachd")
REACH_SIM = os.path.join(BUILD, "tests", "sim", "reach-sim")
REACHCTL = os.path.join(BUILD, "tools", "reachctl")
SECRET = "whsec_dGVzdC1zZWNyZXQtZm9yLWludGVncmF0aW9u"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_file(path, proc, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                text = f.read()
            if text.strip():
                return json.loads(text)
        if proc.poll() is not None:
            raise RuntimeError("process exited with %s before it was ready" % proc.returncode)
        time.sleep(0.02)
    raise TimeoutError("not ready: " + path)


class Http:
    def __init__(self, base):
        self.base = base

    def call(self, method, path, body=None, headers=None, timeout=30):
        data = None
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            if isinstance(data, str):
                data = data.encode()
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                raw = r.read()
                status = r.status
        except urllib.error.HTTPError as e:
            raw = e.read()
            status = e.code
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return status, parsed

    def get(self, path):
        return self.call("GET", path)

    def post(self, path, body, headers=None):
        return self.call("POST", path, body, headers)

    def metric(self, name, label=""):
        """The value of the first sample of `name` (whose labels contain `label`) in /metrics."""
        status, text = self.call("GET", "/metrics")
        if status != 200:
            raise AssertionError("GET /metrics answered %s" % status)
        return metric_value(text, name, label)


def metric_value(text, name, label=""):
    """The first sample of metric `name` in a Prometheus text page whose line contains `label`;
    0.0 when there is none (a counter not yet touched)."""
    for line in text.splitlines():
        if (line.startswith(name + " ") or line.startswith(name + "{")) and label in line:
            return float(line.split()[-1])
    return 0.0


class Sim:
    def __init__(self, workdir, extra=()):
        self.ready = os.path.join(workdir, "sim.ready")
        self.proc = subprocess.Popen(
            [REACH_SIM, "--http", "127.0.0.1:0", "--smtp", "127.0.0.1:0",
             "--webhook-secret", SECRET, "--ready-file", self.ready, *extra],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "sim.log"), "w"))
        info = wait_file(self.ready, self.proc)
        self.http_addr = info["http"]
        self.smtp_addr = info["smtp"]
        self.api = Http("http://" + self.http_addr)

    def requests(self, endpoint="webhook", limit=100000):
        status, body = self.api.get("/_sim/requests?endpoint=%s&limit=%d" % (endpoint, limit))
        assert status == 200, body
        return body

    def fault(self, spec):
        status, body = self.api.post("/_sim/faults", spec)
        assert status in (200, 201, 204), (status, body)

    def clear_faults(self, endpoint=""):
        status, body = self.api.call("DELETE", "/_sim/faults" +
                                     ("?endpoint=" + endpoint if endpoint else ""))
        assert status in (200, 204), (status, body)

    def smtp_messages(self, limit=100000):
        status, body = self.api.get("/_sim/smtp/messages?limit=%d" % limit)
        assert status == 200, body
        return body

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def write_config(workdir, sim=None, smtp_url=None, webhook_url=None, templates_dir=None,
                 extra=""):
    """Writes a reachd config for a test; channels point at the simulator or given peers."""
    tdir = templates_dir or os.path.join(SOURCE, "config", "templates")
    channels = ""
    smtp = smtp_url or (("smtp://" + sim.smtp_addr) if sim else None)
    if smtp:
        channels += """
  email:
    url: %s
    from_address: noreply@reach.example
    from_name: Reach 通知
    message_id_domain: reach.example
    list_unsubscribe_url: https://reach.example/u/
    timeout_ms: 10000
    retry: {max_attempts: 3, base_delay_ms: 100, max_delay_ms: 1000, jitter: 0.1}
""" % smtp
    hook = webhook_url or (("http://%s/webhook/test" % sim.http_addr) if sim else None)
    if hook:
        channels += """
  webhook:
    url: %s
    secret: %s
    timeout_ms: 5000
    retry: {max_attempts: 3, base_delay_ms: 100, max_delay_ms: 1000, jitter: 0.1}
""" % (hook, SECRET)
    text = """
server: {listen: "127.0.0.1:0"}
store: {data_dir: data}
dispatch: {poll_interval_ms: 50}
templates: {dir: %s, watch: false}
log: {level: info}
channels:%s
%s
""" % (tdir, channels, extra)
    path = os.path.join(workdir, "reachd.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


class Reachd:
    def __init__(self, workdir, config, data_dir=None):
        self.workdir = workdir
        self.config = config
        self.data_dir = data_dir or os.path.join(workdir, "data")
        self.proc = None
        self.start()

    def start(self):
        ready = os.path.join(self.workdir, "reachd.ready")
        if os.path.exists(ready):
            os.remove(ready)
        self.log = open(os.path.join(self.workdir, "reachd.log"), "a")
        self.proc = subprocess.Popen(
            [REACHD, "--config", self.config, "--data-dir", self.data_dir,
             "--listen", "127.0.0.1:0", "--ready-file", ready],
            stdout=self.log, stderr=self.log)
        info = wait_file(ready, self.proc)
        self.addr = info["http"]
        self.api = Http("http://" + self.addr)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return None
        return self.proc.returncode if self.proc else None

    def wait_status(self, msg_id, statuses=("sent",), timeout=30.0):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            status, body = self.api.get("/v1/messages/" + msg_id)
            last = body
            if status == 200 and body["status"] in statuses:
                return body
            time.sleep(0.05)
        raise AssertionError("message %s did not reach %s: %s" % (msg_id, statuses, last))


def replace_in_file(path, old, new, count=-1):
    """Replaces `old` (which must be there) with `new` in the file; returns the text before."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if old not in text:
        raise AssertionError("%r not in %s" % (old, path))
    with open(path, "w", encoding="utf-8") as f:
        f.write(text.replace(old, new, count))
    return text


class DaemonTestCase(unittest.TestCase):
    """A test class sharing one reach-sim and one reachd: `config(workdir, sim)` returns the
    config file to start reachd with (the default: write_config with the simulator)."""
    NAME = "daemon"

    @classmethod
    def config(cls, workdir, sim):
        return write_config(workdir, sim=sim)

    @classmethod
    def setUpClass(cls):
        cls.wd = Workdir(cls.NAME)
        cls.sim = Sim(cls.wd.path)
        cls.reachd = Reachd(cls.wd.path, cls.config(cls.wd.path, cls.sim))

    @classmethod
    def tearDownClass(cls):
        cls.reachd.stop()
        cls.sim.stop()
        cls.wd.cleanup()


class Workdir:
    def __init__(self, name):
        self.path = tempfile.mkdtemp(prefix="reach_it_%s_" % name)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


class SmtpCapture:
    """A real SMTP server from Debian (python3-aiosmtpd, tests/integration/smtp_capture.py) in its
    own process. `rejects`: (address, reply) pairs answered at RCPT; `tls`: None (plain text),
    "starttls" or "implicit" with `cert`/`key`; `auth`: (user, password) required, with only
    `auth_mechanism` ("LOGIN" or "PLAIN") offered when set; `pipelining`: PIPELINING offered."""

    def __init__(self, workdir, rejects=(), tls=None, cert=None, key=None, auth=None,
                 auth_mechanism=None, pipelining=False):
        self.outdir = os.path.join(workdir, "mail")
        os.makedirs(self.outdir)
        self.auth_log = os.path.join(workdir, "auth.jsonl")
        ready = os.path.join(workdir, "smtp.ready")
        args = [sys.executable, os.path.join(os.path.dirname(__file__), "smtp_capture.py"),
                self.outdir, ready]
        for addr, reply in rejects:
            args += ["--reject", "%s=%s" % (addr, reply)]
        if tls:
            args += ["--tls", tls, "--cert", cert, "--key", key]
        if auth:
            args += ["--auth", "%s:%s" % auth, "--auth-log", self.auth_log]
        if auth_mechanism:
            args += ["--auth-mechanisms", auth_mechanism]
        if pipelining:
            args += ["--pipelining"]
        self.log = open(os.path.join(workdir, "smtp.log"), "w")
        self.proc = subprocess.Popen(args, stderr=self.log)
        self.port = wait_file(ready, self.proc)["port"]

    def messages(self):
        out = []
        for path in sorted(glob.glob(os.path.join(self.outdir, "*.json"))):
            with open(path) as f:
                out.append(json.load(f))
        return out

    def auth_attempts(self):
        if not os.path.exists(self.auth_log):
            return []
        with open(self.auth_log) as f:
            return [json.loads(line) for line in f if line.strip()]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()
