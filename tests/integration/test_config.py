"""Config as the daemon sees it: --listen and --data-dir override the file (so several instances
share one config), secrets come from *_file, a missing secret file is an error naming its key,
and --check-config reports every error (unknown keys too) and exits 2."""
import json
import os
import subprocess
import time
import unittest

import harness


def config_text(sim, webhook_secret_line, listen, data_dir, extra=""):
    return """
server: {listen: "%s"}
store: {data_dir: %s}
dispatch: {poll_interval_ms: 50}
templates: {dir: %s, watch: false}
log: {level: info}
channels:
  webhook:
    url: http://%s/webhook/cfg
    %s
    timeout_ms: 5000
    retry: {max_attempts: 2, base_delay_ms: 100, max_delay_ms: 200, jitter: 0.1}
%s""" % (listen, data_dir, os.path.join(harness.SOURCE, "config", "templates"), sim.http_addr,
         webhook_secret_line, extra)


class ConfigTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.wd = harness.Workdir("config")
        cls.sim = harness.Sim(cls.wd.path)

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()
        cls.wd.cleanup()

    def write(self, name, text):
        path = os.path.join(self.wd.path, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_overrides_and_secret_file_run_two_instances_from_one_config(self):
        # The file's own listen address and data folder must not be used: port 1 cannot be
        # bound by this user, and the data folder sits under a path that is a file.
        self.write("webhook.secret", harness.SECRET + "\n")
        blocker = self.write("not-a-dir", "x")
        cfg = self.write("shared.yaml", config_text(
            self.sim, "secret_file: webhook.secret", "127.0.0.1:1",
            os.path.join(blocker, "data")))
        instances = []
        try:
            for n in range(2):
                data = os.path.join(self.wd.path, "data-%d" % n)
                port = harness.free_port()
                ready = os.path.join(self.wd.path, "ready-%d" % n)
                with open(os.path.join(self.wd.path, "reachd-%d.log" % n), "w") as log:
                    proc = subprocess.Popen(
                        [harness.REACHD, "--config", cfg, "--listen", "127.0.0.1:%d" % port,
                         "--data-dir", data, "--ready-file", ready], stdout=log, stderr=log)
                instances.append(proc)
                info = harness.wait_file(ready, proc)
                self.assertEqual(info["http"], "127.0.0.1:%d" % port)
                self.assertTrue(os.path.exists(os.path.join(data, "reach.db")))
                api = harness.Http("http://" + info["http"])
                s, b = api.post("/v1/messages", {
                    "template": "welcome", "channels": ["webhook"],
                    "to": {"user_id": "cfg-%d" % n}, "vars": {"name": "x"}})
                self.assertEqual(s, 202, b)
                # Signed with the secret read from the file: the simulator verifies it.
                deadline = time.time() + 30
                while True:
                    s, m = api.get("/v1/messages/" + b["id"])
                    if m["status"] in ("sent", "failed") or time.time() > deadline:
                        break
                    time.sleep(0.05)
                self.assertEqual(m["status"], "sent", m)
                got = [r for r in self.sim.requests() if r["path"].endswith("/webhook/cfg")
                       and '"cfg-%d"' % n in r["body"]]
                self.assertTrue(got, self.sim.requests())
                self.assertTrue(all(r["verified"] for r in got), got)
            self.assertFalse(os.path.exists(os.path.join(self.wd.path, "data")))
        finally:
            for proc in instances:
                proc.terminate()
                self.assertEqual(proc.wait(30), 0)

    def test_missing_secret_file_is_an_error_naming_the_key(self):
        cfg = self.write("missing.yaml", config_text(
            self.sim, "secret_file: /nonexistent/reach/webhook.secret", "127.0.0.1:0", "data"))
        r = subprocess.run([harness.REACHD, "--check-config", cfg], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("channels.webhook.secret_file: cannot read", r.stderr)
        # The daemon itself refuses to start with the same message, and exits 2.
        r = subprocess.run([harness.REACHD, "--config", cfg, "--listen", "127.0.0.1:0",
                            "--data-dir", os.path.join(self.wd.path, "d-missing")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("channels.webhook.secret_file: cannot read", r.stderr)

    def test_bad_listen_override_is_refused_naming_the_option(self):
        cfg = self.write("ok.yaml", config_text(
            self.sim, "secret: " + harness.SECRET, "127.0.0.1:0", "data"))
        for bad in ("nonsense", "127.0.0.1:99999", "127.0.0.1:"):
            r = subprocess.run([harness.REACHD, "--config", cfg, "--listen", bad,
                                "--data-dir", os.path.join(self.wd.path, "d-listen")],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 2, (bad, r.stdout + r.stderr))
            self.assertIn("--listen: must be HOST:PORT", r.stderr)
        # Nothing was created for the refused starts.
        self.assertFalse(os.path.exists(os.path.join(self.wd.path, "d-listen")))

    def test_check_config_reports_every_error_and_unknown_key(self):
        cfg = self.write("many.yaml", config_text(
            self.sim, "secret: whsec_AAAA\n    secret_fil: x", "127.0.0.1:0", "data",
            extra="limits: {x: 1}\nserver2: {}\n"
                  "categories: {otp_priority: 12, marketing_priority: low}\n"))
        r = subprocess.run([harness.REACHD, "--check-config", cfg], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        for want in ("channels.webhook.secret_fil: unknown key", "limits: unknown key",
                     "server2: unknown key", "categories.otp_priority: must be between",
                     "categories.marketing_priority: wrong type"):
            self.assertTrue(any(want in l for l in lines), (want, lines))
        self.assertGreaterEqual(len(lines), 5, lines)
        # Each line names the file it is about.
        self.assertTrue(all(l.startswith(cfg + ": ") for l in lines), lines)


if __name__ == "__main__":
    unittest.main()
