"""The running daemon: bad input gets a 4xx naming the field and stores nothing; the operations
endpoints answer; retries and fallbacks through the simulator's injected faults."""
import json
import unittest

import harness


class ApiTest(harness.DaemonTestCase):
    NAME = "api"

    def setUp(self):
        self.sim.clear_faults()

    def queue_total(self):
        return self.reachd.api.metric("reach_api_messages_accepted_total")

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

    def metric(self, name):
        return self.reachd.api.metric(name)

    def assert_full_error(self, status, body, want_status, code, field):
        """The complete error shape: {"error": {"code", "message", "field"}}."""
        self.assertEqual(status, want_status, body)
        self.assertIsInstance(body, dict, body)
        self.assertEqual(set(body), {"error"}, body)
        err = body["error"]
        self.assertEqual(err["code"], code, body)
        self.assertIsInstance(err["message"], str)
        self.assertTrue(err["message"], body)
        self.assertEqual(err.get("field"), field, body)

    def test_every_kind_of_bad_input_names_its_field_and_stores_nothing(self):
        api = self.reachd.api
        good = {"template": "welcome", "channels": ["webhook"], "to": {"user_id": "u-bad"},
                "vars": {"name": "x"}}
        cases = [
            # (what, request, status, field)
            ("malformed json", b'{"template": "welcome", "channels": [', 400, "body"),
            ("not an object", b'["welcome"]', 400, "body"),
            ("template wrong type", dict(good, template=["welcome"]), 400, "template"),
            ("to wrong type", dict(good, to="u-bad"), 400, "to"),
            ("vars wrong type", dict(good, vars="x"), 400, "vars"),
            ("unknown channel", dict(good, channels=["pigeon"]), 400, "channels[0]"),
            ("sms without phone", dict(good, channels=["sms"]), 400, "to.phone"),
            ("rcs without phone", dict(good, channels=["rcs"]), 400, "to.phone"),
            ("email without email", dict(good, channels=["email"]), 400, "to.email"),
            ("wechat_template without openid", dict(good, channels=["wechat_template"]), 400,
             "to.wechat_openid"),
            ("wechat_subscribe without openid", dict(good, channels=["wechat_subscribe"]), 400,
             "to.miniprogram_openid"),
            ("wecom without userid", dict(good, channels=["wecom"]), 400, "to.wecom_userid"),
            ("push without token", dict(good, channels=["push"]), 400, "to"),
            ("fallback without address", dict(good, channels=["webhook", "email"]), 400,
             "to.email"),
            ("bad priority", dict(good, priority=10), 400, "priority"),
            ("priority wrong type", dict(good, priority="5"), 400, "priority"),
            ("bad category", dict(good, category="promo"), 400, "category"),
            ("bad send_at", dict(good, send_at="next monday"), 400, "send_at"),
            ("bad ttl_s", dict(good, ttl_s=-5), 400, "ttl_s"),
            ("ttl_s wrong type", dict(good, ttl_s="3600"), 400, "ttl_s"),
            ("unknown field", dict(good, prority=1), 400, "prority"),
            ("unknown template", dict(good, template="no_such_template"), 422, "template"),
            ("missing variable", dict(good, vars={}), 422, "vars.name"),
            ("channel not configured", dict(good, channels=["sms"],
                                            to={"phone": "+8613800138000"}), 422, "channels[0]"),
        ]
        accepted = self.metric("reach_api_messages_accepted_total")
        rejected = self.metric("reach_api_messages_rejected_total")
        for i, (what, req, want, field) in enumerate(cases):
            with self.subTest(what):
                key = "it-bad-%d" % i
                s, b = api.post("/v1/messages", req, headers={"Idempotency-Key": key})
                self.assert_full_error(s, b, want, "invalid_argument", field)
        # Oversize body: 413 from the server before the API sees it.
        s, b = api.call("POST", "/v1/messages", b'{"pad":"' + b"x" * (17 * 1024 * 1024) + b'"}')
        self.assert_full_error(s, b, 413, "payload_too_large", "body")
        # 10,001 items: 413 naming messages, and not one of them stored.
        batch = {"template": "welcome", "channels": ["webhook"], "vars": {"name": "x"},
                 "messages": [{"to": {"user_id": "u%d" % i}, "idempotency_key": "it-big-%d" % i}
                              for i in range(10001)]}
        s, b = api.post("/v1/messages/batch", batch)
        self.assert_full_error(s, b, 413, "payload_too_large", "messages")
        # Nothing was stored: no message was accepted, every one was counted as rejected...
        self.assertEqual(self.metric("reach_api_messages_accepted_total"), accepted)
        self.assertEqual(self.metric("reach_api_messages_rejected_total") - rejected, len(cases))
        self.assertGreaterEqual(self.metric("reach_api_batches_rejected_total"), 1)
        # ...and the idempotency keys they carried are still unused: a good request with one
        # of them creates a new message rather than answering with an earlier one.
        for key in ("it-bad-0", "it-bad-%d" % (len(cases) - 1), "it-big-0"):
            s, b = api.post("/v1/messages", dict(good, idempotency_key=key))
            self.assertEqual(s, 202, b)
            self.assertNotIn("duplicate", b)
        self.assertEqual(self.metric("reach_api_messages_accepted_total"), accepted + 3)

    def test_idempotency_conflict_is_409_and_changes_nothing(self):
        api = self.reachd.api
        req = {"template": "welcome", "channels": ["webhook"], "to": {"user_id": "u-idem"},
               "vars": {"name": "first"}, "send_at": "2099-01-01T00:00:00Z"}
        s, first = api.post("/v1/messages", req, headers={"Idempotency-Key": "it-409"})
        self.assertEqual(s, 202, first)
        accepted = self.metric("reach_api_messages_accepted_total")
        s, b = api.post("/v1/messages", dict(req, vars={"name": "second"}),
                        headers={"Idempotency-Key": "it-409"})
        self.assert_full_error(s, b, 409, "conflict", "idempotency_key")
        self.assertEqual(self.metric("reach_api_messages_accepted_total"), accepted)
        s, again = api.post("/v1/messages", req, headers={"Idempotency-Key": "it-409"})
        self.assertEqual(s, 202, again)
        self.assertEqual(again["id"], first["id"])
        self.assertTrue(again.get("duplicate"))
        self.assertEqual(self.metric("reach_api_messages_accepted_total"), accepted)

    def test_each_accepted_send_waited_on_a_counted_commit(self):
        api = self.reachd.api
        before = self.metric("reach_store_commit_seconds_count")
        req = {"template": "welcome", "channels": ["webhook"], "to": {"user_id": "u-commit"},
               "vars": {"name": "c"}, "send_at": "2099-01-01T00:00:00Z"}
        for _ in range(3):  # one after another: three transactions
            s, b = api.post("/v1/messages", req)
            self.assertEqual(s, 202, b)
        self.assertGreaterEqual(self.metric("reach_store_commit_seconds_count") - before, 3)
        # The +Inf bucket holds every commit.
        self.assertEqual(api.metric("reach_store_commit_seconds_bucket", 'le="+Inf"'),
                         self.metric("reach_store_commit_seconds_count"))

    def test_unknown_message_and_endpoint(self):
        api = self.reachd.api
        s, b = api.get("/v1/messages/msg_999999999")
        self.assert_full_error(s, b, 404, "not_found", "id")
        s, b = api.call("DELETE", "/v1/messages/msg_999999999")
        self.assert_full_error(s, b, 404, "not_found", "id")
        s, b = api.call("DELETE", "/v1/messages/garbage")
        self.assert_full_error(s, b, 404, "not_found", "id")
        s, b = api.get("/v1/nothing-here")
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
