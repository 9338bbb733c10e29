"""Process lifecycle: --check-config reports every error with its key path and exits 2; SIGHUP,
POST /v1/admin/reload and the file watch reload templates (a broken catalog is refused with its
errors and the old one serves); SIGTERM drains and exits 0; a restarted daemon resumes scheduled
work."""
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

    def sent_welcome(self, reachd, sim, user):
        """Sends `welcome` by webhook to `user`; returns the body the simulator received."""
        s, m = reachd.api.post("/v1/messages", {
            "template": "welcome", "channels": ["webhook"], "to": {"user_id": user},
            "vars": {"name": user}})
        self.assertEqual(s, 202, m)
        reachd.wait_status(m["id"])
        bodies = {r["headers"].get("webhook-id"): r["body"] for r in sim.requests()}
        return bodies[m["id"]]

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
            harness.replace_in_file(wpath, "event: user.welcome\n", "event: user.welcome.v2\n")
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
            self.assertIn('"user.welcome.v2"', self.sent_welcome(reachd, sim, "u-new"))
            reachd.wait_status(old_msg["id"], timeout=30)
            bodies = {r["headers"].get("webhook-id"): r["body"] for r in sim.requests()}
            self.assertIn('"user.welcome"', bodies[old_msg["id"]])
            self.assertNotIn("v2", bodies[old_msg["id"]])
            # A broken catalog is refused with its errors (file and key path); the old one keeps
            # serving, over POST /v1/admin/reload and over SIGHUP alike.
            s, cat = reachd.api.get("/v1/templates")
            self.assertEqual(s, 200, cat)
            with open(os.path.join(tdir, "broken.yaml"), "w") as f:
                f.write("templates: {broken: {channels: {email: {subject: '{{oops'}}}}\n")
            s, b = reachd.api.post("/v1/admin/reload", {})
            self.assertEqual(s, 422, b)
            self.assertIn("broken.yaml: templates.broken.channels.email.subject: unclosed tag",
                          b["error"]["message"])
            self.assertIn("templates.broken.channels.email: needs text or html",
                          b["error"]["message"])
            reachd.proc.send_signal(signal.SIGHUP)
            time.sleep(0.5)
            self.assertIsNone(reachd.proc.poll())
            s, b = reachd.api.get("/v1/templates")
            self.assertEqual(b["version"], cat["version"])
            s, b = reachd.api.post("/v1/messages", req)
            self.assertEqual(s, 202, b)
            self.assertEqual(reachd.wait_status(b["id"])["status"], "sent")
            self.assertIn('"user.welcome.v2"', self.sent_welcome(reachd, sim, "u-kept"))
            with open(os.path.join(self.wd.path, "reachd.log")) as f:
                self.assertIn("broken.yaml: templates.broken.channels.email.subject", f.read())
            self.assertEqual(reachd.stop(), 0)
        finally:
            sim.stop()

    def test_file_watch_reloads_templates(self):
        """templates.watch: an edit takes effect without a signal; a broken edit is refused
        (counted in reach_templates_reloads_total{result="refused"}) and the old catalog serves."""
        tdir = os.path.join(self.wd.path, "templates")
        shutil.copytree(os.path.join(harness.SOURCE, "config", "templates"), tdir)
        sim = harness.Sim(self.wd.path)
        try:
            cfg = harness.write_config(self.wd.path, sim=sim, templates_dir=tdir)
            harness.replace_in_file(cfg, "watch: false", "watch: true")
            reachd = harness.Reachd(self.wd.path, cfg)
            s, before = reachd.api.get("/v1/templates/welcome")
            self.assertEqual(s, 200, before)
            wpath = os.path.join(tdir, "welcome.yaml")
            welcome = harness.replace_in_file(wpath, "event: user.welcome\n",
                                              "event: user.welcome.watched\n")
            deadline = time.time() + 10
            after = before
            while time.time() < deadline and after["version"] == before["version"]:
                time.sleep(0.05)
                s, after = reachd.api.get("/v1/templates/welcome")
            self.assertNotEqual(after["version"], before["version"])
            self.assertIn('"user.welcome.watched"', self.sent_welcome(reachd, sim, "u"))

            def refused():
                return reachd.api.metric("reach_templates_reloads_total", "refused")
            self.assertEqual(refused(), 0.0)
            with open(wpath, "w") as f:
                f.write(welcome.replace("{{name}}", "{{nmae}}"))
            deadline = time.time() + 10
            while time.time() < deadline and refused() < 1:
                time.sleep(0.05)
            self.assertGreaterEqual(refused(), 1.0)
            s, still = reachd.api.get("/v1/templates/welcome")
            self.assertEqual(still["version"], after["version"])
            self.assertIn('"user.welcome.watched"', self.sent_welcome(reachd, sim, "u2"))
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
