"""Crash safety: SIGKILL reachd while thousands of messages are queued, in flight and being
enqueued; restart it; every message that got a 202 reaches a final state, none is lost."""
import os
import random
import threading
import time
import unittest

import harness


class KillTest(unittest.TestCase):
    def setUp(self):
        self.wd = harness.Workdir("kill")
        self.sim = harness.Sim(self.wd.path, extra=("--record-limit", "1000000"))
        # Slow the provider a little so that many sends are in flight at the kill.
        self.sim.fault({"endpoint": "webhook", "delay_ms": 20, "probability": 1.0})
        cfg = harness.write_config(self.wd.path, sim=self.sim)
        self.reachd = harness.Reachd(self.wd.path, cfg)

    def tearDown(self):
        self.reachd.stop()
        self.sim.stop()
        self.wd.cleanup()

    def batch(self, api, start, n):
        body = {"template": "welcome", "channels": ["webhook"], "vars": {"name": "k"},
                "messages": [{"to": {"user_id": "u%d" % i}, "idempotency_key": "kill:%d" % i}
                             for i in range(start, start + n)]}
        status, reply = api.post("/v1/messages/batch", body)
        if status != 202:
            return None
        return [r["id"] for r in reply["results"] if "id" in r]

    def test_sigkill_loses_nothing(self):
        accepted = set()
        # 1. A backlog, committed before the kill.
        for start in range(0, 3000, 500):
            ids = self.batch(self.reachd.api, start, 500)
            self.assertIsNotNone(ids)
            self.assertEqual(len(ids), 500)
            accepted.update(ids)
        # 2. Enqueues still arriving while the process dies.
        stop = threading.Event()
        lock = threading.Lock()

        def writer():
            start = 3000
            while not stop.is_set():
                try:
                    ids = self.batch(self.reachd.api, start, 200)
                except Exception:
                    ids = None  # connection died with the process: not accepted
                if ids:
                    with lock:
                        accepted.update(ids)
                start += 200
                time.sleep(0.05)

        t = threading.Thread(target=writer)
        t.start()
        time.sleep(0.5 + random.random())
        sent_before = len(self.sim.requests(limit=100000))
        self.reachd.kill9()
        stop.set()
        t.join()
        self.assertGreater(len(accepted), 3000)
        self.assertLess(sent_before, len(accepted), "the kill must happen with work left")

        # 3. Restart on the same data; everything accepted reaches a final state.
        self.sim.clear_faults("webhook")
        self.reachd.start()
        deadline = time.time() + 120
        pending = set(accepted)
        while pending and time.time() < deadline:
            for msg_id in list(pending)[:500]:
                status, body = self.reachd.api.get("/v1/messages/" + msg_id)
                self.assertEqual(status, 200, "accepted message %s is missing: %s" % (msg_id, body))
                if body["status"] in ("sent", "failed", "expired", "cancelled"):
                    self.assertEqual(body["status"], "sent", body)
                    self.assertGreaterEqual(len(body["attempts"]), 1)
                    pending.discard(msg_id)
            if pending:
                time.sleep(0.2)
        self.assertEqual(len(pending), 0, "not final after restart: %d" % len(pending))
        # Every accepted message was delivered to the provider at least once.
        received = {r["headers"].get("webhook-id") for r in self.sim.requests(limit=1000000)}
        missing = [m for m in accepted if m not in received]
        self.assertEqual(missing, [], "accepted but never delivered")


if __name__ == "__main__":
    unittest.main()
