"""reachctl against a running reachd (and the simulator): send, status, cancel, batch, health,
templates, render, reload, and its exit codes."""
import json
import os
import shutil
import subprocess
import unittest

import harness


class ReachctlTest(harness.DaemonTestCase):
    NAME = "ctl"

    def ctl(self, *args, server=None):
        env = dict(os.environ, REACH_SERVER=server or "http://" + self.reachd.addr)
        r = subprocess.run([harness.REACHCTL, *args], capture_output=True, text=True, env=env,
                           cwd=harness.SOURCE, timeout=60)
        return r.returncode, r.stdout, r.stderr

    def test_send_then_status_shows_the_attempt(self):
        rc, out, err = self.ctl("send", "--template", "welcome", "--channel", "email",
                                "--channel", "webhook", "--to-email", "li.lei@example.com",
                                "--var", "name=李雷", "--metadata", "campaign=7")
        self.assertEqual(rc, 0, err)
        msg_id, status = out.strip().split("\t")
        self.assertEqual(status, "queued")
        rc, out, err = self.ctl("status", msg_id, "--wait", "--wait-timeout-s", "30")
        self.assertEqual(rc, 0, err)
        self.assertIn("id: " + msg_id, out)
        self.assertIn("status: sent", out)
        self.assertIn("channel: email", out)
        self.assertIn("template: welcome", out)
        attempt = [l for l in out.splitlines() if l.startswith("  ") and "smtp" in l]
        self.assertEqual(len(attempt), 1, out)
        self.assertIn("sent", attempt[0])
        self.assertIn("250", attempt[0])
        rc, out, _ = self.ctl("--json", "status", msg_id)
        self.assertEqual(json.loads(out)["metadata"], {"campaign": "7"})

    def test_errors_and_exit_codes(self):
        rc, _, err = self.ctl("send", "--template", "welcome", "--channel", "email",
                              "--to-phone", "+8613800138000", "--var", "name=x")
        self.assertEqual(rc, 1)
        self.assertIn("to.email", err)
        rc, _, err = self.ctl("send", "--template", "nope", "--channel", "webhook")
        self.assertEqual(rc, 1)
        self.assertIn("template", err)
        rc, _, err = self.ctl("status", "msg_424242")
        self.assertEqual(rc, 1)
        self.assertIn("not_found", err)
        self.assertEqual(self.ctl("frobnicate")[0], 2)
        self.assertEqual(self.ctl("send", "--template")[0], 2)
        self.assertEqual(self.ctl("send", "--template", "welcome")[0], 2)  # no channel
        self.assertEqual(self.ctl("send", "--priority", "high")[0], 2)
        self.assertEqual(self.ctl("health", server="http://127.0.0.1:1")[0], 3)

    def test_cancel_scheduled(self):
        rc, out, err = self.ctl("send", "--template", "welcome", "--channel", "webhook",
                                "--to-user-id", "u1", "--var", "name=x",
                                "--send-at", "2099-01-01T00:00:00Z")
        self.assertEqual(rc, 0, err)
        msg_id = out.split("\t")[0]
        rc, out, err = self.ctl("cancel", msg_id)
        self.assertEqual(rc, 0, err)
        self.assertIn("cancelled", out)
        self.assertIn("status: cancelled", self.ctl("status", msg_id)[1])
        rc, _, err = self.ctl("cancel", msg_id)
        self.assertEqual(rc, 1)
        self.assertIn("conflict", err)

    def test_batch_reports_every_line(self):
        path = os.path.join(self.wd.path, "batch.jsonl")
        good = {"template": "welcome", "channels": ["webhook"], "to": {"user_id": "u"},
                "vars": {"name": "x"}}
        with open(path, "w") as f:
            for i in range(5):
                f.write(json.dumps(dict(good, idempotency_key="b-%d" % i)) + "\n")
            f.write("{not json\n")
            f.write(json.dumps(dict(good, vars={})) + "\n")
            f.write("\n")
            f.write(json.dumps(dict(good, idempotency_key="b-last")) + "\n")
        rc, out, err = self.ctl("batch", path, "--chunk", "3")
        self.assertEqual(rc, 1, err)
        lines = [l.split("\t") for l in out.strip().splitlines()]
        self.assertEqual([l[0] for l in lines], ["1", "2", "3", "4", "5", "6", "7", "9"])
        self.assertTrue(all(l[2] == "queued" for l in lines[:5]), lines)
        self.assertEqual(lines[5][1:3], ["error", "invalid_json"])
        self.assertEqual(lines[6][1], "error")
        self.assertIn("vars.name", lines[6])
        self.assertEqual(lines[7][2], "queued")
        self.assertIn("6 accepted, 2 rejected", err)
        for l in lines[:5]:
            self.reachd.wait_status(l[1])

    def test_batch_all_good_exits_zero_and_every_message_is_sent(self):
        path = os.path.join(self.wd.path, "good.jsonl")
        with open(path, "w") as f:
            for i in range(7):
                f.write(json.dumps({"template": "welcome", "channels": ["webhook"],
                                    "to": {"user_id": "bg-%d" % i}, "vars": {"name": "x"},
                                    "idempotency_key": "bg-%d" % i}) + "\n")
        rc, out, err = self.ctl("batch", path, "--chunk", "2")
        self.assertEqual(rc, 0, err)
        self.assertIn("7 accepted, 0 rejected", err)
        lines = [l.split("\t") for l in out.strip().splitlines()]
        self.assertEqual([l[0] for l in lines], [str(i) for i in range(1, 8)])
        for l in lines:
            self.assertEqual(l[2], "queued", l)
            rc, shown, err = self.ctl("status", l[1], "--wait", "--wait-timeout-s", "30")
            self.assertEqual(rc, 0, err)
            self.assertIn("status: sent", shown)
        # The same file again: nothing new, the same ids.
        rc, again, err = self.ctl("batch", path, "--chunk", "5")
        self.assertEqual(rc, 0, err)
        self.assertEqual([l.split("\t")[1] for l in again.strip().splitlines()],
                         [l[1] for l in lines])
        self.assertEqual(self.ctl("batch", os.path.join(self.wd.path, "missing.jsonl"))[0], 2)

    def test_readme_form_url_channels_and_to(self):
        r = subprocess.run([harness.REACHCTL, "--url", "http://" + self.reachd.addr, "send",
                            "--template", "welcome", "--channels", "email,webhook",
                            "--to", "email=a@b.cn", "--var", "name=李雷"],
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, REACH_SERVER="http://127.0.0.1:1"))
        self.assertEqual(r.returncode, 0, r.stderr)
        msg_id = r.stdout.split("\t")[0]
        shown = self.reachd.wait_status(msg_id)
        self.assertEqual(shown["channels"], ["email", "webhook"])
        self.assertEqual(shown["channel"], "email")
        self.assertEqual(self.ctl("send", "--template", "welcome", "--channel", "email",
                                  "--to", "email")[0], 2)

    def test_json_output_and_unknown_ids(self):
        rc, out, err = self.ctl("--json", "send", "--template", "welcome", "--channel",
                                "webhook", "--to-user-id", "u-json", "--var", "name=x")
        self.assertEqual(rc, 0, err)
        sent = json.loads(out)
        self.assertEqual(sent["status"], "queued")
        rc, out, err = self.ctl("--json", "status", sent["id"], "--wait")
        self.assertEqual(rc, 0, err)
        shown = json.loads(out)
        self.assertEqual(shown["id"], sent["id"])
        self.assertEqual(shown["status"], "sent")
        self.assertEqual(shown["attempts"][-1]["outcome"], "sent")
        rc, _, err = self.ctl("cancel", sent["id"])
        self.assertEqual(rc, 1)
        self.assertIn("409 conflict", err)
        rc, _, err = self.ctl("cancel", "msg_987654321")
        self.assertEqual(rc, 1)
        self.assertIn("not_found", err)
        rc, _, err = self.ctl("send", "--template", "welcome", "--channel", "sms",
                              "--to-user-id", "u", "--var", "name=x")
        self.assertEqual(rc, 1)
        self.assertIn("400 invalid_argument to.phone", err)

    def test_health_templates_render_reload(self):
        rc, out, _ = self.ctl("health")
        self.assertEqual(rc, 0)
        self.assertIn("/readyz\t200", out)
        rc, out, _ = self.ctl("templates", "list")
        self.assertEqual(rc, 0)
        self.assertIn("welcome", out)
        rc, out, _ = self.ctl("templates", "show", "welcome")
        self.assertEqual(rc, 0)
        self.assertIn('"name"', out)
        rc, out, _ = self.ctl("templates", "lint", "config/templates")
        self.assertEqual(rc, 0, out)
        bad = os.path.join(self.wd.path, "bad_templates")
        os.makedirs(bad)
        with open(os.path.join(bad, "x.yaml"), "w") as f:
            f.write("templates: {x: {channels: {email: {subject: '{{unclosed'}}}}\n")
        rc, out, _ = self.ctl("templates", "lint", bad)
        self.assertEqual(rc, 1, out)
        self.assertIn("x.yaml", out)
        rc, out, err = self.ctl("render", "welcome", "--channel", "sms", "--var", "name=李雷")
        self.assertEqual(rc, 0, err)
        self.assertIn("【Reach】李雷", out)
        self.assertIn("1 segment", out)
        rc, out, err = self.ctl("reload")
        self.assertEqual(rc, 0, err)

    def test_lint_and_render_with_the_daemons_config(self):
        # A marketing SMS that ends with the operator's own opt-out wording: wrong under the
        # default wording, right under the config that sets it.
        tdir = os.path.join(self.wd.path, "optout_templates")
        os.makedirs(tdir)
        shutil.copy(os.path.join(harness.SOURCE, "config", "templates", "spring_sale.yaml"), tdir)
        harness.replace_in_file(os.path.join(tdir, "spring_sale.yaml"), "拒收请回复R", "退订回T")
        cfg = os.path.join(self.wd.path, "optout.yaml")
        with open(cfg, "w") as f:
            f.write("templates: {dir: optout_templates, sms_optout_text: 退订回T}\n")
        rc, out, _ = self.ctl("templates", "lint", tdir)
        self.assertEqual(rc, 1, out)
        self.assertIn("spring_sale", out)
        rc, out, err = self.ctl("templates", "lint", "--config", cfg)  # the folder from the config
        self.assertEqual(rc, 0, out + err)
        rc, out, err = self.ctl("render", "spring_sale", "--channel", "sms", "--config", cfg,
                                "--var", "discount=8折")
        self.assertEqual(rc, 0, err)
        self.assertIn("退订回T", out)
        rc, _, err = self.ctl("templates", "lint", "--config", "/nonexistent/reachd.yaml")
        self.assertEqual(rc, 1)
        self.assertIn("/nonexistent/reachd.yaml", err)


if __name__ == "__main__":
    unittest.main()
