"""HTTP server limits, set in the config file: body size (413), batch size (413 naming
`messages`), read and idle timeouts (the connection is closed), connection limit (one more is
refused and counted; capacity comes back when a connection closes)."""
import json
import socket
import time
import unittest

import harness


def limits_config(wd, sim, server):
    path = harness.write_config(wd, sim=sim)
    harness.replace_in_file(path, 'server: {listen: "127.0.0.1:0"}',
                            'server: {listen: "127.0.0.1:0", %s}' % server)
    return path


def connect(addr, timeout=10.0):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def closed_within(sock, seconds):
    """(closed, bytes received): closed when the peer closes (EOF or reset) within `seconds`."""
    sock.settimeout(seconds)
    got = b""
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True, got
            got += data
    except socket.timeout:
        return False, got
    except (ConnectionResetError, BrokenPipeError):
        return True, got


def http_get(sock, path="/healthz", keep_alive=True):
    sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: %s\r\n\r\n" %
                  (path, "keep-alive" if keep_alive else "close")).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("closed before the answer: %r" % buf)
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split()[1]), body


class TimeoutsAndSizesTest(harness.DaemonTestCase):
    NAME = "limits"

    @classmethod
    def config(cls, workdir, sim):
        return limits_config(workdir, sim, "body_limit_bytes: 4096, read_timeout_ms: 400, "
                             "idle_timeout_ms: 600, max_batch_items: 5")

    def accepted(self):
        return self.reachd.api.metric("reach_api_messages_accepted_total")

    def test_body_limit_from_config(self):
        api = self.reachd.api
        before = self.accepted()
        req = {"template": "welcome", "channels": ["webhook"], "to": {"user_id": "u"},
               "vars": {"name": "x"}, "metadata": {"pad": "x" * 5000}}
        s, b = api.post("/v1/messages", req)
        self.assertEqual(s, 413, b)
        self.assertEqual(b["error"]["code"], "payload_too_large")
        self.assertEqual(b["error"]["field"], "body")
        self.assertEqual(self.accepted(), before)
        s, b = api.post("/v1/messages", dict(req, metadata={"pad": "x" * 3000}))
        self.assertEqual(s, 202, b)

    def test_batch_limit_from_config(self):
        api = self.reachd.api
        before = self.accepted()
        batch = {"template": "welcome", "channels": ["webhook"], "vars": {"name": "x"},
                 "messages": [{"to": {"user_id": "u%d" % i}} for i in range(6)]}
        s, b = api.post("/v1/messages/batch", batch)
        self.assertEqual(s, 413, b)
        self.assertEqual(b["error"]["field"], "messages")
        self.assertIn("at most 5", b["error"]["message"])
        self.assertEqual(self.accepted(), before)
        batch["messages"] = batch["messages"][:5]
        s, b = api.post("/v1/messages/batch", batch)
        self.assertEqual(s, 202, b)
        self.assertEqual(len(b["results"]), 5)
        self.assertEqual(self.accepted(), before + 5)

    def test_read_timeout_drops_a_slow_request(self):
        s = connect(self.reachd.addr)
        try:
            start = time.monotonic()
            s.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
            self.assertTrue(closed_within(s, 10.0)[0], "slow request was not dropped")
            elapsed = time.monotonic() - start
            self.assertGreaterEqual(elapsed, 0.3)
            self.assertLess(elapsed, 5.0)
        finally:
            s.close()

    def test_idle_timeout_closes_a_keep_alive_connection(self):
        s = connect(self.reachd.addr)
        try:
            status, _ = http_get(s)
            self.assertEqual(status, 200)
            # Still open well inside the idle limit: a second request on it works.
            status, _ = http_get(s)
            self.assertEqual(status, 200)
            start = time.monotonic()
            self.assertTrue(closed_within(s, 10.0)[0], "idle connection was not closed")
            elapsed = time.monotonic() - start
            self.assertGreaterEqual(elapsed, 0.45)
            self.assertLess(elapsed, 5.0)
        finally:
            s.close()

    def test_a_busy_connection_outlives_its_first_deadlines(self):
        # The server's one timer per connection first wakes at the first request's read
        # deadline (400 ms); each request since moved the deadline on, so it must re-arm, not
        # close. 2 s of requests 150 ms apart spans five read and three idle limits.
        s = connect(self.reachd.addr)
        try:
            start = time.monotonic()
            n = 0
            while time.monotonic() - start < 2.0:
                status, _ = http_get(s)
                self.assertEqual(status, 200, "request %d on the connection" % n)
                n += 1
                time.sleep(0.15)
            self.assertGreater(n, 8)
            # And once it goes quiet, the idle limit still closes it.
            quiet = time.monotonic()
            self.assertTrue(closed_within(s, 10.0)[0], "idle connection was not closed")
            self.assertGreaterEqual(time.monotonic() - quiet, 0.3)
        finally:
            s.close()


class ConnectionLimitTest(harness.DaemonTestCase):
    NAME = "connlimit"

    @classmethod
    def config(cls, workdir, sim):
        return limits_config(workdir, sim,
                             "max_connections: 3, read_timeout_ms: 60000, idle_timeout_ms: 60000")

    @staticmethod
    def metric(sock, name):
        # Over a connection already open: a new one may be over the limit under test.
        status, body = http_get(sock, "/metrics")
        assert status == 200, status
        return harness.metric_value(body.decode(), name)

    def test_connection_over_the_limit_is_refused_and_counted(self):
        conns = [connect(self.reachd.addr) for _ in range(3)]
        try:
            # All three are served (accepted in order, before the fourth).
            for c in conns:
                self.assertEqual(http_get(c)[0], 200)
            rejected = self.metric(conns[0], "reach_http_rejected_connections_total")
            self.assertEqual(self.metric(conns[0], "reach_http_connections"), 3)
            extra = connect(self.reachd.addr)
            try:
                try:
                    extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass
                closed, data = closed_within(extra, 10.0)
                self.assertTrue(closed, "the connection over the limit was kept open")
                self.assertEqual(data, b"", "the connection over the limit was served")
            finally:
                extra.close()
            # The three within the limit keep working; the refusal was counted, once.
            for c in conns:
                self.assertEqual(http_get(c)[0], 200)
            self.assertEqual(self.metric(conns[1], "reach_http_rejected_connections_total"),
                             rejected + 1)
        finally:
            for c in conns:
                c.close()
        # Capacity comes back once they are gone.
        deadline = time.time() + 10
        while True:
            try:
                s, body = self.reachd.api.post("/v1/messages", {
                    "template": "welcome", "channels": ["webhook"], "to": {"user_id": "u"},
                    "vars": {"name": "x"}})
                break
            except (ConnectionError, OSError):
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.assertEqual(s, 202, body)


if __name__ == "__main__":
    unittest.main()
