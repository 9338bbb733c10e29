"""Logs of a running reachd: one line per delivery event (sent, retry, failed) carrying the
message id; `log.format: json` gives one JSON object per line; e-mail addresses and phone numbers
are masked, even inside a provider's error reply; the webhook secret (read from a file) and the
SMTP password never appear."""
import json
import os
import signal
import time
import unittest

import harness

SMTP_USER = "reach-mailer"
SMTP_PASSWORD = "Sm7p-Pa55word-do-not-log"
EMAIL_OK = "li.lei@example.com"
EMAIL_BAD = "wang.fang@example.org"
PHONE = "+8613800138000"
PHONE_NATIONAL = "13912345678"
SECRET_PAYLOAD = harness.SECRET[len("whsec_"):]


def write_config(wd, sim, fmt):
    secret_file = os.path.join(wd, "webhook.secret")
    with open(secret_file, "w") as f:
        f.write(harness.SECRET + "\n")
    path = os.path.join(wd, "reachd-%s.yaml" % fmt)
    with open(path, "w") as f:
        f.write("""
server: {listen: "127.0.0.1:0"}
store: {data_dir: data}
dispatch: {poll_interval_ms: 50}
templates: {dir: %s, watch: false}
log: {level: info, format: %s}
channels:
  email:
    url: smtp://%s
    username: %s
    password: "%s"
    from_address: noreply@reach.example
    timeout_ms: 10000
    retry: {max_attempts: 2, base_delay_ms: 100, max_delay_ms: 200, jitter: 0.1}
  webhook:
    url: http://%s/webhook/logs
    secret_file: %s
    timeout_ms: 5000
    retry: {max_attempts: 3, base_delay_ms: 100, max_delay_ms: 200, jitter: 0.1}
""" % (os.path.join(harness.SOURCE, "config", "templates"), fmt, sim.smtp_addr, SMTP_USER,
       SMTP_PASSWORD, sim.http_addr, secret_file))
    return path


class LogsTestBase:
    FORMAT = None

    @classmethod
    def setUpClass(cls):
        cls.wd = harness.Workdir("logs_" + cls.FORMAT)
        cls.sim = harness.Sim(cls.wd.path, extra=("--smtp-user", SMTP_USER,
                                                  "--smtp-password", SMTP_PASSWORD))
        cls.reachd = harness.Reachd(cls.wd.path, write_config(cls.wd.path, cls.sim, cls.FORMAT))
        cls.ids = cls.send_everything()
        # A reload and a clean stop also log; they must not leak anything either.
        cls.reachd.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        assert cls.reachd.stop() == 0
        cls.reachd.log.close()
        with open(os.path.join(cls.wd.path, "reachd.log"), encoding="utf-8") as f:
            cls.text = f.read()

    @classmethod
    def tearDownClass(cls):
        cls.reachd.stop()
        cls.sim.stop()
        cls.wd.cleanup()

    @classmethod
    def send_everything(cls):
        api = cls.reachd.api
        ids = {}

        def send(name, channels, to):
            s, b = api.post("/v1/messages", {"template": "welcome", "channels": channels,
                                             "to": to, "vars": {"name": "李雷"}})
            assert s == 202, (s, b)
            ids[name] = b["id"]
            return cls.reachd.wait_status(b["id"], ("sent", "failed"))

        cls.sim.clear_faults()
        msg = send("email_sent", ["email"], {"email": EMAIL_OK, "phone": PHONE})
        assert msg["status"] == "sent", msg
        # The provider's reply echoes the address; the log line carries the reply.
        cls.sim.fault({"endpoint": "smtp", "command": "RCPT", "count": 1,
                       "reply": "550 5.1.1 <%s>: Recipient address rejected" % EMAIL_BAD})
        msg = send("email_failed", ["email"], {"email": EMAIL_BAD})
        assert msg["status"] == "failed", msg
        cls.sim.fault({"endpoint": "webhook", "status": 400, "count": 1,
                       "body": json.dumps({"error": "recipient %s / %s / %s opted out" %
                                           (PHONE, PHONE_NATIONAL, EMAIL_OK)})})
        msg = send("webhook_failed", ["webhook"], {"user_id": "u-logs", "phone": PHONE})
        assert msg["status"] == "failed", msg
        cls.sim.fault({"endpoint": "webhook", "status": 503, "count": 1})
        msg = send("webhook_retried", ["webhook"], {"user_id": "u-logs-2"})
        assert msg["status"] == "sent", msg
        cls.sim.clear_faults()
        return ids

    def lines_about(self, msg_id):
        raise NotImplementedError

    def test_one_line_per_delivery_event_with_the_message_id(self):
        def events(name):
            found = []
            for text in self.lines_about(self.ids[name]):
                words = text.split()
                # "message <id> <event> ..."
                self.assertEqual(words[0], "message", text)
                self.assertEqual(words[1], self.ids[name], text)
                found.append(words[2])
            return found

        self.assertEqual(events("email_sent"), ["sent"])
        self.assertEqual(events("email_failed"), ["failed"])
        self.assertEqual(events("webhook_failed"), ["failed"])
        self.assertEqual(events("webhook_retried"), ["retry", "sent"])
        sent = self.lines_about(self.ids["email_sent"])[0]
        self.assertIn("channel=email", sent)
        self.assertIn("to=l***@example.com", sent)

    def test_addresses_are_masked_everywhere(self):
        for raw in (EMAIL_OK, EMAIL_BAD, PHONE, PHONE_NATIONAL, PHONE[1:]):
            self.assertNotIn(raw, self.text)
        failed = " ".join(self.lines_about(self.ids["email_failed"]))
        self.assertIn("w***@example.org", failed)
        failed = " ".join(self.lines_about(self.ids["webhook_failed"]))
        self.assertIn("+86138****8000", failed)
        self.assertIn("139****5678", failed)
        self.assertIn("l***@example.com", failed)

    def test_secrets_are_never_logged(self):
        self.assertIn("listening on", self.text)  # the log is there at all
        for secret in (SMTP_PASSWORD, harness.SECRET, SECRET_PAYLOAD):
            self.assertNotIn(secret, self.text)


class JsonLogsTest(LogsTestBase, unittest.TestCase):
    FORMAT = "json"

    def records(self):
        out = []
        for line in self.text.splitlines():
            rec = json.loads(line)  # every line is one JSON object
            self.assertIsInstance(rec, dict, line)
            self.assertIsInstance(rec["ts_ms"], int, line)
            self.assertIn(rec["level"], ("trace", "debug", "info", "warning", "error",
                                         "critical"), line)
            self.assertIsInstance(rec["msg"], str, line)
            out.append(rec)
        return out

    def test_every_line_is_a_json_object(self):
        records = self.records()
        self.assertGreater(len(records), 6)
        # Lines about one message carry its id as a field.
        for name, msg_id in self.ids.items():
            self.assertTrue(any(r.get("message_id") == msg_id for r in records), name)
        for r in records:
            if "message_id" in r:
                self.assertTrue(r["msg"].startswith("message %s " % r["message_id"]), r)

    def lines_about(self, msg_id):
        return [r["msg"] for r in self.records() if r.get("message_id") == msg_id]


class TextLogsTest(LogsTestBase, unittest.TestCase):
    FORMAT = "text"

    def lines_about(self, msg_id):
        out = []
        for line in self.text.splitlines():
            # "<time> <level> message <id> ..."
            parts = line.split(" ", 2)
            if len(parts) == 3 and parts[2].startswith("message %s " % msg_id):
                out.append(parts[2])
        return out

    def test_lines_have_time_and_level(self):
        lines = self.text.splitlines()
        self.assertTrue(lines)
        for line in lines:
            stamp, level, _ = line.split(" ", 2)
            self.assertRegex(stamp, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$", line)
            self.assertIn(level, ("trace", "debug", "info", "warning", "error", "critical"),
                          line)


if __name__ == "__main__":
    unittest.main()
