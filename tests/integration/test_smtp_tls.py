"""End to end over TLS: reachd sends e-mail to a real SMTP server from Debian (aiosmtpd) that
speaks STARTTLS or implicit TLS (smtps) and may require AUTH. The certificate is a self-signed one
made here with the openssl command-line tool; the received message is parsed with Python's email
package. smtp_capture.py records the TLS version/cipher the server saw for each message and every
AUTH attempt, so a plaintext delivery or a missing login fails the tests. Every test runs on both
SMTP engines (`channels.email.engine`: curl, and pipelining in SmtpTlsPipeliningTest), against a
server that offers PIPELINING unless the test says otherwise."""
import base64
import email
import email.policy
import os
import shutil
import subprocess
import tempfile
import unittest

import harness

USER = "reach-mailer"
PASSWORD = "Tr0ub4dor&3-correct-horse"  # the right one
WRONG_PASSWORD = "wr0ng-Battery-staple-42"
SUBJECT_NAME = "李雷"


def make_cert(folder, name, san):
    """A self-signed certificate (its own CA) and key for `san`, written into `folder`."""
    cert = os.path.join(folder, name + ".pem")
    key = os.path.join(folder, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=" + san,
                    "-days", "2"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return cert, key


class SmtpTlsTest(unittest.TestCase):
    ENGINE = "curl"

    @classmethod
    def setUpClass(cls):
        cls.certdir = tempfile.mkdtemp(prefix="reach_it_tls_certs_")
        cls.cert, cls.key = make_cert(cls.certdir, "server", "IP:127.0.0.1")
        # Trusted (it is in ca_file) but for another name: host verification must refuse it.
        cls.other_cert, cls.other_key = make_cert(cls.certdir, "other", "DNS:mail.invalid")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certdir, ignore_errors=True)

    def setUp(self):
        self.wd = harness.Workdir("smtp_tls")
        self.smtp = None
        self.reachd = None

    def tearDown(self):
        if self.reachd:
            self.assertEqual(self.reachd.stop(), 0, "reachd must exit 0 on SIGTERM")
            self.reachd.log.close()
        if self.smtp:
            self.smtp.stop()
        self.wd.cleanup()

    # --- helpers ---

    def start(self, mode, email_keys, auth=None, cert=None, key=None, scheme=None,
              auth_mechanism=None, pipelining=True):
        """Starts the server (`mode` starttls|implicit, or None for plaintext) and reachd on
        this class's engine with `email_keys` added to channels.email."""
        self.smtp = harness.SmtpCapture(self.wd.path, tls=mode, cert=cert or self.cert,
                                        key=key or self.key, auth=auth,
                                        auth_mechanism=auth_mechanism, pipelining=pipelining)
        email_keys = ["engine: " + self.ENGINE] + email_keys
        scheme = scheme or ("smtps" if mode == "implicit" else "smtp")
        path = harness.write_config(self.wd.path,
                                    smtp_url="%s://127.0.0.1:%d" % (scheme, self.smtp.port))
        harness.replace_in_file(path, "\n  email:\n", "\n  email:\n" +
                                "".join("    %s\n" % line for line in email_keys), 1)
        self.reachd = harness.Reachd(self.wd.path, path)

    def send(self, to="li.lei@example.com"):
        status, body = self.reachd.api.post("/v1/messages", {
            "template": "welcome", "channels": ["email"],
            "to": {"email": to, "user_id": "u-1"}, "vars": {"name": SUBJECT_NAME},
            "locale": "zh-CN"})
        self.assertEqual(status, 202, body)
        return self.reachd.wait_status(body["id"], ("sent", "failed"))

    def assert_delivered_over_tls(self, msg, count=1):
        """`msg` was sent, and is the `count`th message the server received, over TLS."""
        self.assertEqual(msg["status"], "sent", msg)
        self.assertEqual(len(msg["attempts"]), 1, msg)
        attempt = msg["attempts"][0]
        self.assertEqual((attempt["channel"], attempt["provider"], attempt["outcome"]),
                         ("email", "smtp", "sent"), attempt)
        received = self.smtp.messages()
        self.assertEqual(len(received), count, received)
        rec = received[-1]
        self.assertIsNotNone(rec["tls"], "the message travelled in plaintext")
        # The pipelining engine pipelines inside TLS too; libcurl never does.
        self.assertEqual(rec["pipelined"], self.ENGINE == "pipelining", rec)
        self.assertIn(rec["tls"]["version"], ("TLSv1.2", "TLSv1.3"), rec["tls"])
        self.assertEqual(rec["rcpt_tos"], ["li.lei@example.com"])
        self.assertEqual(rec["mail_from"], "noreply@reach.example")
        raw = rec["data"].encode("utf-8", "surrogateescape")
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        self.assertEqual(str(parsed["Subject"]), "欢迎, %s!" % SUBJECT_NAME)
        self.assertEqual(parsed["To"].addresses[0].addr_spec, "li.lei@example.com")
        self.assertEqual(parsed["Message-ID"].strip(), attempt["provider_message_id"])
        self.assertEqual([p.get_content_type() for p in parsed.iter_parts()],
                         ["text/plain", "text/html"])
        self.assertIn("%s，您好" % SUBJECT_NAME, next(parsed.iter_parts()).get_content())
        return rec

    def assert_failed(self, msg, outcome, code):
        """Every attempt (max_attempts: 3 in harness.write_config) ended `outcome` with `code`
        and nothing was delivered."""
        self.assertEqual(msg["status"], "failed", msg)
        self.assertEqual(len(msg["attempts"]), 3, msg)
        for a in msg["attempts"]:
            self.assertEqual((a["channel"], a["provider"], a["outcome"], a["code"]),
                             ("email", "smtp", outcome, code), a)
        self.assertEqual(self.smtp.messages(), [])

    def reachd_log(self):
        with open(os.path.join(self.wd.path, "reachd.log"), "rb") as f:
            return f.read()

    def assert_secret_not_logged(self, secret):
        log = self.reachd_log()
        self.assertTrue(log.strip(), "reachd.log is empty: nothing to check")
        forms = [secret.encode(), base64.b64encode(secret.encode()),
                 base64.b64encode(("\0%s\0%s" % (USER, secret)).encode()),
                 base64.b64encode(("%s\0%s\0%s" % (USER, USER, secret)).encode())]
        for form in forms:
            self.assertNotIn(form, log, "a form of the password is in reachd.log")

    # --- 1. STARTTLS ---

    def test_starttls_delivers_over_tls(self):
        self.start("starttls", ["tls: starttls", "ca_file: " + self.cert, "verify_peer: true"])
        self.assert_delivered_over_tls(self.send())

    def test_starttls_server_refuses_plaintext(self):
        # The control for the test above: this server takes no mail without STARTTLS, so a
        # delivery there could not have been plaintext. tls: none never sends STARTTLS; the
        # server's "530 Must issue a STARTTLS command first" is a configuration error
        # (ClassifySmtpReply: 530) and the send never goes out.
        self.start("starttls", ["tls: none", "ca_file: " + self.cert])
        self.assert_failed(self.send(), "config", "530")

    def test_starttls_required_when_not_offered(self):
        # tls: starttls against a plaintext server that does not offer STARTTLS: nothing is sent
        # in plaintext (libcurl's CURLUSESSL_ALL; CURLE_USE_SSL_FAILED -> config, code "tls").
        self.start(None, ["tls: starttls", "ca_file: " + self.cert])
        self.assert_failed(self.send(), "config", "tls")

    def test_session_kept_over_tls(self):
        # Three messages one after another go over one TLS session: the session stays usable
        # after each (TLS 1.3 session tickets and all) and is not set up again per message.
        # One event loop (`threads: 1`): each loop keeps its own sessions.
        self.start("starttls", ["tls: starttls", "ca_file: " + self.cert, "threads: 1"])
        for n in (1, 2, 3):
            self.assert_delivered_over_tls(self.send(), count=n)
        peers = {tuple(m["peer"]) for m in self.smtp.messages()}
        self.assertEqual(len(peers), 1, peers)

    # --- 2. implicit TLS (smtps://) ---

    def test_implicit_tls_delivers(self):
        self.start("implicit", ["tls: implicit", "ca_file: " + self.cert, "verify_peer: true"])
        self.assert_delivered_over_tls(self.send())

    def test_implicit_with_smtp_scheme_is_not_plaintext(self):
        """`tls: implicit` with an smtp:// URL still speaks TLS from the first byte (the adapter
        upgrades the scheme), so nothing reaches a plaintext server: no message, no AUTH."""
        try:
            self.start(None, ["tls: implicit", "ca_file: " + self.cert], scheme="smtp")
        except RuntimeError:
            self.reachd = None
            return  # reachd refused the contradictory config: fine
        msg = self.send()
        self.assertEqual(msg["status"], "failed", msg)
        self.assertEqual([m["tls"] for m in self.smtp.messages()], [],
                         "tls: implicit delivered in plaintext")

    # --- 3. AUTH over TLS ---

    def test_auth_over_starttls_accepted(self):
        pw_file = os.path.join(self.wd.path, "smtp-password")
        with open(pw_file, "w") as f:
            f.write(PASSWORD + "\n")  # the trailing newline is stripped
        self.start("starttls", ["tls: starttls", "ca_file: " + self.cert,
                                "username: " + USER, "password_file: " + pw_file],
                   auth=(USER, PASSWORD))
        rec = self.assert_delivered_over_tls(self.send())
        self.assertEqual(rec["auth_login"], USER, "the message was not sent by the AUTH user")
        attempts = self.smtp.auth_attempts()
        self.assertEqual(len(attempts), 1, attempts)
        self.assertTrue(attempts[0]["ok"], attempts)
        self.assertEqual(attempts[0]["login"], USER)
        self.assertIsNotNone(attempts[0]["tls"], "AUTH was sent before TLS")
        self.assert_secret_not_logged(PASSWORD)

    def test_auth_over_implicit_tls_accepted(self):
        self.start("implicit", ["tls: implicit", "ca_file: " + self.cert,
                                "username: " + USER, "password: '%s'" % PASSWORD],
                   auth=(USER, PASSWORD))
        rec = self.assert_delivered_over_tls(self.send())
        self.assertEqual(rec["auth_login"], USER)
        attempts = self.smtp.auth_attempts()
        self.assertEqual([(a["login"], a["ok"]) for a in attempts], [(USER, True)])
        self.assertIsNotNone(attempts[0]["tls"])
        self.assert_secret_not_logged(PASSWORD)

    def test_auth_login_when_only_login_is_offered(self):
        self.start("starttls", ["tls: starttls", "ca_file: " + self.cert,
                                "username: " + USER, "password: '%s'" % PASSWORD],
                   auth=(USER, PASSWORD), auth_mechanism="LOGIN")
        rec = self.assert_delivered_over_tls(self.send())
        self.assertEqual(rec["auth_login"], USER)
        attempts = self.smtp.auth_attempts()
        self.assertEqual([(a["mechanism"], a["login"], a["ok"]) for a in attempts],
                         [("LOGIN", USER, True)])
        self.assert_secret_not_logged(PASSWORD)

    def test_auth_wrong_password_fails(self):
        # 535 5.7.8 (CURLE_LOGIN_DENIED) is a configuration error in ClassifySmtpReply: code
        # "535 5.7.8", retried up to max_attempts (the dispatcher retries kConfig), then failed.
        self.start("starttls", ["tls: starttls", "ca_file: " + self.cert,
                                "username: " + USER, "password: '%s'" % WRONG_PASSWORD],
                   auth=(USER, PASSWORD))
        msg = self.send()
        self.assert_failed(msg, "config", "535 5.7.8")
        for a in msg["attempts"]:
            self.assertIn("535", a["detail"], a)
        attempts = self.smtp.auth_attempts()
        self.assertEqual(len(attempts), 3, attempts)
        for a in attempts:
            self.assertEqual((a["login"], a["ok"]), (USER, False), a)
            self.assertIsNotNone(a["tls"], "AUTH was sent before TLS")
        self.assertIn(b"535", self.reachd_log(), "the configuration error is logged")
        self.assert_secret_not_logged(WRONG_PASSWORD)
        self.assert_secret_not_logged(PASSWORD)

    # --- 4. certificate verification ---

    def test_untrusted_certificate_starttls(self):
        # verify_peer: true and no ca_file: the self-signed certificate is not in the system
        # store. ClassifySmtpReply: CURLE_PEER_FAILED_VERIFICATION -> config, code "tls".
        self.start("starttls", ["tls: starttls", "verify_peer: true"])
        msg = self.send()
        self.assert_failed(msg, "config", "tls")
        self.assertEqual(self.smtp.auth_attempts(), [])

    def test_untrusted_certificate_implicit(self):
        self.start("implicit", ["tls: implicit", "verify_peer: true"])
        self.assert_failed(self.send(), "config", "tls")

    def test_untrusted_certificate_auth_not_sent(self):
        # The credentials must not go to a server that failed verification.
        self.start("starttls", ["tls: starttls", "verify_peer: true",
                                "username: " + USER, "password: '%s'" % PASSWORD],
                   auth=(USER, PASSWORD))
        self.assert_failed(self.send(), "config", "tls")
        self.assertEqual(self.smtp.auth_attempts(), [])
        self.assert_secret_not_logged(PASSWORD)

    def test_unusable_ca_file(self):
        # A readable ca_file that holds no certificate (the config check only asks that it be
        # readable): every attempt is a TLS configuration error naming the CA file's problem (as
        # libcurl's CURLE_SSL_CACERT_BADFILE), not a failed verification, and nothing is sent.
        bad = os.path.join(self.wd.path, "not-a-ca.pem")
        with open(bad, "w") as f:
            f.write("not a certificate\n")
        self.start("starttls", ["tls: starttls", "ca_file: " + bad, "verify_peer: true"])
        msg = self.send()
        self.assert_failed(msg, "config", "tls")
        for a in msg["attempts"]:
            self.assertIn("CA cert", a["detail"], a)

    def test_wrong_host_name_refused(self):
        # The certificate is trusted (ca_file) but names mail.invalid, not 127.0.0.1.
        self.start("starttls", ["tls: starttls", "ca_file: " + self.other_cert,
                                "verify_peer: true"],
                   cert=self.other_cert, key=self.other_key)
        self.assert_failed(self.send(), "config", "tls")

    def test_verify_peer_false_accepts_untrusted(self):
        # The other side of the switch: verify_peer: false sends to the untrusted server, still
        # encrypted.
        self.start("starttls", ["tls: starttls", "verify_peer: false"])
        self.assert_delivered_over_tls(self.send())


class SmtpTlsPipeliningTest(SmtpTlsTest):
    ENGINE = "pipelining"


if __name__ == "__main__":
    unittest.main()
