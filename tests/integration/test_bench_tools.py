"""The benchmark's own tools: reach-trivial-server's --durable ceiling writes and syncs each body
before its 202, and bench.py pools the rounds' latency distributions into one."""
import importlib.util
import os
import subprocess
import tempfile
import unittest
import urllib.request

import harness


def load_bench():
    spec = importlib.util.spec_from_file_location("bench", os.path.join(harness.SOURCE, "scripts",
                                                                        "bench.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class PooledQuantileTest(unittest.TestCase):
    def test_rounds_pool_by_their_request_counts(self):
        bench = load_bench()
        # Round a: 1,000 requests, 99 % at or under 2 ms, the rest up to 50 ms.
        a = {"requests": 1000, "max_ms": 50.0,
             "quantiles": [(0.5, 1.0), (0.99, 2.0), (0.999, 40.0), (1.0, 50.0)]}
        # Round b: 3,000 requests, all fast.
        b = {"requests": 3000, "max_ms": 3.0,
             "quantiles": [(0.5, 1.5), (0.99, 2.5), (0.999, 2.8), (1.0, 3.0)]}
        self.assertEqual(bench.pooled_quantile([a], 0.99), 2.0)
        # Together: at 2.5 ms, 990 of a and 2,970 of b = 3,960 of 4,000 = 0.99.
        self.assertEqual(bench.pooled_quantile([a, b], 0.99), 2.5)
        # 99.9 % of 4,000 is 3,996: past 3 ms only a's slow tail is left.
        self.assertEqual(bench.pooled_quantile([a, b], 0.999), 40.0)
        self.assertEqual(bench.pooled_quantile([a, b], 0.5), 1.5)


class DurableCeilingTest(unittest.TestCase):
    def test_each_body_is_in_the_file_when_its_202_comes(self):
        binary = os.path.join(harness.BUILD, "bench", "reach-trivial-server")
        with tempfile.TemporaryDirectory() as work:
            ring = os.path.join(work, "ring")
            ready = os.path.join(work, "ready")
            p = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--durable", ring,
                                  "--ready-file", ready], stdout=subprocess.DEVNULL)
            try:
                addr = harness.wait_file(ready, p, timeout=30)["http"]
                self.assertEqual(os.path.getsize(ring), 64 << 20)  # the ring, written up front
                for i in range(3):
                    body = b'{"n":"durable-%d"}' % i
                    req = urllib.request.Request("http://%s/v1/messages" % addr, data=body,
                                                 headers={"Content-Type": "application/json"})
                    with urllib.request.urlopen(req, timeout=10) as r:
                        self.assertEqual(r.status, 202)
                    with open(ring, "rb") as f:
                        self.assertIn(body, f.read(1 << 20))
            finally:
                p.terminate()
                p.wait(timeout=10)


if __name__ == "__main__":
    unittest.main()
