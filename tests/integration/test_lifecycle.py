"""Process lifecycle: --check-config reports every error with its key path and exits 2; SIGHUP
reloads templates; SIGTERM drains and exits 0; a restarted daemon resumes scheduled work."""
import os
import shutil
import signal
import subprocess
import time
import unittest

import harness


class LifecycleTest(unittest.TestCase):
    def setUp(self):
        self.wd = harness.Workdir("life")

    def tearDown(self):
        self.wd.cleanup()

    def test_check_config_reports_every_error_with_its_path(self):
        bad = os.path.join(self.wd.path, "bad.yaml")
        with open(bad, "w") as f:
            f.write("server: {listen: nowhere, colour: blue}\n"
                    "store: {synchronous: sometimes}\n"
                    "channels: {webhook: {url: http://127.0.0.1:1/x, retry: {max_attempts: 0}}}\n"
                    "templates: {dir: %s}\n" % os.path.join(harness.SOURCE, "config", "templates"))
        r = subprocess.run([harness.REACHD, "--check-config", bad], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        out = r.stdout + r.stderr
        for path in ("server.listen", "server.colour", "store.synchronous",
                     "channels.webhook.retry.max_attempts", "channels.webhook.secret"):
            self.assertIn(path, out)
        good = subprocess.run([harness.REACHD, "--check-config",
                               os.path.join(harness.SOURCE, "config", "reachd.yaml")],
                              capture_output=True, text=True)
        self.assertEqual(good.returncode, 0, good.stdout + good.stderr)

    def test_sighup_reloads_templates_and_sigterm_exits_zero(self):
        tdir = os.path.join(self.wd.path, "templates")
        shutil.copytree(os.path.join(harness.SOURCE, "config", "templates"), tdir)
        sim = harness.Sim(self.wd.path)
        try:
            cfg = harness.write_config(self.wd.path, sim=sim, templates_dir=tdir)
            reachd = harness.Reachd(self.wd.path, cfg)
            req = {"template": "farewell", "channels": ["webhook"], "to": {"user_id": "u"},
                   "vars": {"name": "x"}}
            s, b = reachd.api.post("/v1/messages", req)
            self.assertIn(s, (400, 422), b)
            # Queued before the reload (due in 3 s): must render with the version it was accepted
            # with, even though the template changes meanwhile.
            soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3))
            s, old_msg = reachd.api.post("/v1/messages", {
                "template": "welcome", "channels": ["webhook"], "to": {"user_id": "u-old"},
                "vars": {"name": "old"}, "send_at": soon})
            self.assertEqual(s, 202, old_msg)
            wpath = os.path.join(tdir, "welcome.yaml")
            with open(wpath) as f:
                welcome = f.read()
            self.assertIn("event: user.welcome\n", welcome)
            with open(wpath, "w") as f:
                f.write(welcome.replace("event: user.welcome\n", "event: user.welcome.v2\n"))
            with open(os.path.join(tdir, "farewell.yaml"), "w") as f:
                f.write("templates:\n  farewell:\n    category: transactional\n"
                        "    variables:\n      name: {type: string, required: true}\n"
                        "    channels:\n      webhook:\n        body: {bye: '{{name}}'}\n")
            reachd.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 10
            while time.time() < deadline:
                s, b = reachd.api.post("/v1/messages", req)
                if s == 202:
                    break
                time.sleep(0.05)
            self.assertEqual(s, 202, b)
            self.assertEqual(reachd.wait_status(b["id"])["status"], "sent")
            s, new_msg = reachd.api.post("/v1/messages", {
                "template": "welcome", "channels": ["webhook"], "to": {"user_id": "u-new"},
                "vars": {"name": "new"}})
            self.assertEqual(s, 202, new_msg)
            reachd.wait_status(new_msg["id"])
            reachd.wait_status(old_msg["id"], timeout=30)
            bodies = {r["headers"].get("webhook-id"): r["body"] for r in sim.requests()}
            self.assertIn('"user.welcome.v2"', bodies[new_msg["id"]])
            self.assertIn('"user.welcome"', bodies[old_msg["id"]])
            self.assertNotIn("v2", bodies[old_msg["id"]])
            # A broken catalog is refused; the old one keeps serving.
            with open(os.path.join(tdir, "broken.yaml"), "w") as f:
                f.write("templates: {broken: {channels: {email: {subject: '{{oops'}}}}\n")
            s, b = reachd.api.post("/v1/admin/reload", {})
            self.assertGreaterEqual(s, 400, b)
            s, b = reachd.api.post("/v1/messages", req)
            self.assertEqual(s, 202, b)
            self.assertEqual(reachd.stop(), 0)
        finally:
            sim.stop()

    def test_restart_resumes_scheduled_messages(self):
        sim = harness.Sim(self.wd.path)
        try:
            cfg = harness.write_config(self.wd.path, sim=sim)
            reachd = harness.Reachd(self.wd.path, cfg)
            soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3))
            s, b = reachd.api.post("/v1/messages", {
                "template": "welcome", "channels": ["webhook"], "to": {"user_id": "u"},
                "vars": {"name": "later"}, "send_at": soon})
            self.assertEqual(s, 202, b)
            self.assertEqual(reachd.stop(), 0)
            self.assertEqual(sim.requests(), [])
            reachd.start()
            msg = reachd.wait_status(b["id"], timeout=30)
            self.assertEqual(msg["status"], "sent")
            self.assertEqual(reachd.stop(), 0)
        finally:
            sim.stop()


if __name__ == "__main__":
    unittest.main()
