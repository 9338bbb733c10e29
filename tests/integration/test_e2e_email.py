"""End to end: reachd sends e-mail to a real SMTP server from Debian (aiosmtpd); the received
message is parsed with Python's email package, the way a mail client would."""
import email
import email.policy
import os
import unittest

import harness


class EmailEndToEndTest(unittest.TestCase):
    def setUp(self):
        self.wd = harness.Workdir("email")
        self.smtp = harness.SmtpCapture(self.wd.path,
                                        rejects=[("nobody@example.com", "550 5.1.1 No such user here")])
        self.sim = harness.Sim(self.wd.path)
        cfg = harness.write_config(self.wd.path, sim=self.sim,
                                   smtp_url="smtp://127.0.0.1:%d" % self.smtp.port)
        self.reachd = harness.Reachd(self.wd.path, cfg)

    def tearDown(self):
        self.assertEqual(self.reachd.stop(), 0, "reachd must exit 0 on SIGTERM")
        self.sim.stop()
        self.smtp.stop()
        self.wd.cleanup()

    def test_utf8_subject_and_both_parts(self):
        name = "李雷 <b>&"
        status, body = self.reachd.api.post("/v1/messages", {
            "template": "welcome", "channels": ["email"],
            "to": {"email": "li.lei@example.com", "user_id": "u-1"},
            "vars": {"name": name}, "locale": "zh-CN"})
        self.assertEqual(status, 202, body)
        msg = self.reachd.wait_status(body["id"], ("sent", "failed"))
        self.assertEqual(msg["status"], "sent", msg)
        self.assertEqual(msg["channel"], "email")
        self.assertEqual(len(msg["attempts"]), 1)
        attempt = msg["attempts"][0]
        self.assertEqual(attempt["provider"], "smtp")
        self.assertEqual(attempt["outcome"], "sent")

        received = self.smtp.messages()
        self.assertEqual(len(received), 1)
        rec = received[0]
        self.assertEqual(rec["rcpt_tos"], ["li.lei@example.com"])
        self.assertEqual(rec["mail_from"], "noreply@reach.example")
        raw = rec["data"].encode("utf-8", "surrogateescape")
        # Every line ends in CRLF on the wire.
        self.assertNotIn(b"\n", raw.replace(b"\r\n", b""))
        self.assertTrue(all(len(line) <= 998 for line in raw.split(b"\r\n")))
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        self.assertEqual(str(parsed["Subject"]), "欢迎, %s!" % name)
        self.assertIn("=?", raw.split(b"\r\n\r\n")[0].decode("ascii"),
                      "the UTF-8 subject travels as RFC 2047 encoded-words")
        self.assertEqual(parsed["To"].addresses[0].addr_spec, "li.lei@example.com")
        self.assertEqual(parsed["From"].addresses[0].addr_spec, "noreply@reach.example")
        self.assertEqual(parsed["From"].addresses[0].display_name, "Reach 通知")
        self.assertIsNotNone(parsed["Date"].datetime)
        self.assertEqual(parsed["Message-ID"].strip(), attempt["provider_message_id"])
        self.assertIn("<https://reach.example/u/", parsed["List-Unsubscribe"])
        self.assertEqual(parsed["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
        self.assertEqual(parsed.get_content_type(), "multipart/alternative")
        parts = list(parsed.iter_parts())
        self.assertEqual([p.get_content_type() for p in parts], ["text/plain", "text/html"])
        text = parts[0].get_content()
        html = parts[1].get_content()
        self.assertIn("%s，您好" % name, text)  # plain text: the name as given
        self.assertIn("李雷 &lt;b&gt;&amp;，您好", html)  # HTML: the name escaped
        self.assertNotIn("<b>&，", html)

    def test_rejected_mailbox_falls_back_to_webhook(self):
        status, body = self.reachd.api.post("/v1/messages", {
            "template": "welcome", "channels": ["email", "webhook"],
            "to": {"email": "nobody@example.com", "user_id": "u-2"}, "vars": {"name": "韩梅梅"}})
        self.assertEqual(status, 202, body)
        msg = self.reachd.wait_status(body["id"], ("sent", "failed"))
        self.assertEqual(msg["status"], "sent", msg)
        self.assertEqual(msg["channel"], "webhook")
        self.assertEqual([a["channel"] for a in msg["attempts"]], ["email", "webhook"])
        self.assertEqual(msg["attempts"][0]["outcome"], "recipient_invalid")
        self.assertEqual(msg["attempts"][0]["code"][:3], "550")
        self.assertEqual(self.smtp.messages(), [])
        hooks = self.sim.requests()
        self.assertEqual(len(hooks), 1)
        self.assertTrue(hooks[0]["verified"], hooks[0])


if __name__ == "__main__":
    unittest.main()
