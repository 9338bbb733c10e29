"""The running daemon: bad input gets a 4xx naming the field and stores nothing; the operations
endpoints answer; retries and fallbacks through the simulator's injected faults."""
import json
import unittest

import harness


class ApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.wd = harness.Workdir("api")
        cls.sim = harness.Sim(cls.wd.path)
        cfg = harness.write_config(cls.wd.path, sim=cls.sim)
        cls.reachd = harness.Reachd(cls.wd.path, cfg)

    @classmethod
    def tearDownClass(cls):
        cls.reachd.stop()
        cls.sim.stop()
        cls.wd.cleanup()

    def setUp(self):
        self.sim.clear_faults()

    def queue_total(self):
        status, text = self.reachd.api.call("GET", "/metrics")
        self.assertEqual(status, 200)
        for line in text.splitlines():
            if line.startswith("reach_api_messages_accepted_total"):
                return float(line.split()[-1])
        return 0.0

    def assert_error(self, status, body, want_status, field):
        self.assertEqual(status, want_status, body)
        self.assertIsInstance(body, dict, body)
        self.assertIn("error", body)
        self.assertIn(body["error"]["code"], ("invalid_argument", "payload_too_large"))
        if field is not None:
            self.assertEqual(body["error"].get("field"), field, body)
        self.assertTrue(body["error"]["message"])

    def test_bad_input_is_rejected_and_changes_nothing(self):
        api = self.reachd.api
        good = {"template": "welcome", "channels": ["email"],
                "to": {"email": "a@example.com"}, "vars": {"name": "x"}}
        before = self.queue_total()
        s, b = api.call("POST", "/v1/messages", b'{"template": "welcome", ')
        self.assert_error(s, b, 400, None)
        s, b = api.post("/v1/messages", dict(good, channels="email"))
        self.assert_error(s, b, 400, "channels")
        s, b = api.post("/v1/messages", dict(good, priority="high"))
        self.assert_error(s, b, 400, "priority")
        s, b = api.post("/v1/messages", dict(good, to={"phone": "+8613800138000"}))
        self.assertIn(s, (400, 422), b)
        self.assertEqual(b["error"]["field"], "to.email")
        s, b = api.post("/v1/messages", dict(good, template="no_such_template"))
        self.assertIn(s, (400, 422), b)
        self.assertEqual(b["error"]["field"], "template")
        s, b = api.post("/v1/messages", dict(good, vars={}))
        self.assertEqual(s, 422, b)
        self.assertEqual(b["error"]["field"], "vars.name")
        s, b = api.post("/v1/messages", dict(good, to={"email": "not-an-address"}))
        self.assert_error(s, b, 400, "to.email")
        big = json.dumps(dict(good, vars={"name": "x" * (17 * 1024 * 1024)}))
        s, b = api.call("POST", "/v1/messages", big)
        self.assertEqual(s, 413, b)
        self.assertEqual(b["error"]["code"], "payload_too_large")
        batch = {"template": "welcome", "channels": ["webhook"], "vars": {"name": "x"},
                 "messages": [{"to": {"user_id": "u%d" % i}} for i in range(10001)]}
        s, b = api.post("/v1/messages/batch", batch)
        self.assert_error(s, b, 413, "messages")
        # Nothing was stored: the accepted counter did not move.
        self.assertEqual(self.queue_total(), before)
        s, b = api.get("/v1/messages/msg_999999")
        self.assertEqual(s, 404, b)
        self.assertEqual(b["error"]["code"], "not_found")

    def test_operations_endpoints(self):
        api = self.reachd.api
        self.assertEqual(api.get("/healthz")[0], 200)
        self.assertEqual(api.get("/readyz")[0], 200)
        s, text = api.call("GET", "/metrics")
        self.assertEqual(s, 200)
        self.assertIn("reach_queue_depth", text)
        s, text = api.call("GET", "/v1/openapi.yaml")
        self.assertEqual(s, 200)
        self.assertIn("openapi: 3", text)
        s, b = api.get("/v1/templates")
        self.assertEqual(s, 200)
        self.assertIn("welcome", json.dumps(b))

    def test_webhook_retries_5xx_then_delivers_signed(self):
        self.sim.fault({"endpoint": "webhook", "status": 503, "count": 2})
        s, b = self.reachd.api.post("/v1/messages", {
            "template": "welcome", "channels": ["webhook"], "to": {"user_id": "u-retry"},
            "vars": {"name": "重试"}, "metadata": {"campaign": "c1"}})
        self.assertEqual(s, 202, b)
        msg = self.reachd.wait_status(b["id"], ("sent", "failed"))
        self.assertEqual(msg["status"], "sent", msg)
        self.assertEqual([a["outcome"] for a in msg["attempts"]], ["retry", "retry", "sent"])
        self.assertEqual(msg["attempts"][0]["code"], "503")
        got = [r for r in self.sim.requests() if r["headers"].get("webhook-id") == b["id"]]
        self.assertEqual(len(got), 3)
        self.assertTrue(all(r["verified"] for r in got), got)
        payload = json.loads(got[-1]["body"])
        self.assertIn("重试", json.dumps(payload, ensure_ascii=False))

    def test_permanent_webhook_error_fails_message(self):
        self.sim.fault({"endpoint": "webhook", "status": 400, "count": 1})
        s, b = self.reachd.api.post("/v1/messages", {
            "template": "welcome", "channels": ["webhook"], "to": {"user_id": "u-400"},
            "vars": {"name": "x"}})
        self.assertEqual(s, 202, b)
        msg = self.reachd.wait_status(b["id"], ("sent", "failed"))
        self.assertEqual(msg["status"], "failed", msg)
        self.assertEqual(len(msg["attempts"]), 1)
        self.assertEqual(msg["attempts"][0]["outcome"], "permanent")
        self.assertIn("reason", msg)

    def test_smtp_4xx_retried_then_sent(self):
        self.sim.fault({"endpoint": "smtp", "command": "RCPT", "reply": "451 4.3.0 Try later",
                        "count": 1})
        s, b = self.reachd.api.post("/v1/messages", {
            "template": "welcome", "channels": ["email"], "to": {"email": "x@example.com"},
            "vars": {"name": "x"}})
        self.assertEqual(s, 202, b)
        msg = self.reachd.wait_status(b["id"], ("sent", "failed"))
        self.assertEqual(msg["status"], "sent", msg)
        self.assertEqual([a["outcome"] for a in msg["attempts"]], ["retry", "sent"])
        self.assertEqual(msg["attempts"][0]["code"][:3], "451")

    def test_cancel_scheduled_and_idempotency(self):
        api = self.reachd.api
        req = {"template": "welcome", "channels": ["webhook"], "to": {"user_id": "u-c"},
               "vars": {"name": "x"}, "send_at": "2099-01-01T00:00:00Z",
               "idempotency_key": "it-cancel-1"}
        s, b = api.post("/v1/messages", req)
        self.assertEqual(s, 202, b)
        s2, b2 = api.post("/v1/messages", req)
        self.assertEqual(s2, 202, b2)
        self.assertEqual(b2["id"], b["id"])
        s3, b3 = api.post("/v1/messages", dict(req, vars={"name": "y"}))
        self.assertEqual(s3, 409, b3)
        self.assertEqual(api.get("/v1/messages/" + b["id"])[1]["status"], "scheduled")
        self.assertEqual(api.call("DELETE", "/v1/messages/" + b["id"])[0], 200)
        self.assertEqual(api.get("/v1/messages/" + b["id"])[1]["status"], "cancelled")


if __name__ == "__main__":
    unittest.main()
