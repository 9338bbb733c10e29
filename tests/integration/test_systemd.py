"""systemd integration: the unit in systemd/ passes `systemd-analyze verify`, and reachd speaks
the sd_notify protocol the unit's Type=notify relies on (READY=1 once serving, RELOADING=1 then
READY=1 around a SIGHUP reload, STOPPING=1 on SIGTERM, then exit 0)."""
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import unittest

import harness

UNIT = os.path.join(harness.SOURCE, "systemd", "reachd.service")


class SystemdUnitTest(unittest.TestCase):
    def setUp(self):
        self.wd = harness.Workdir("systemd")

    def tearDown(self):
        self.wd.cleanup()

    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze not installed")
    def test_unit_verifies_clean(self):
        with open(UNIT) as f:
            unit = f.read()
        for key in ("Type=notify", "ExecStartPre=/usr/local/bin/reachd --check-config",
                    "StateDirectory=reach", "User=reach", "ProtectSystem=strict",
                    "NoNewPrivileges=yes", "ExecReload=/bin/kill -HUP $MAINPID"):
            self.assertIn(key, unit)
        # verify checks that ExecStart binaries exist: point them at the build tree.
        local = unit.replace("/usr/local/bin/reachd", os.path.abspath(harness.REACHD))
        path = os.path.join(self.wd.path, "reachd.service")
        with open(path, "w") as f:
            f.write(local)
        r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True)
        out = r.stdout + r.stderr
        # Lines about the host's own units (no systemd running in a container) are not ours.
        ours = [l for l in out.splitlines() if "reachd.service" in l]
        self.assertEqual(r.returncode, 0, out)
        self.assertEqual(ours, [], out)

    def test_sysusers_and_tmpfiles_snippets(self):
        with open(os.path.join(harness.SOURCE, "systemd", "reach.sysusers.conf")) as f:
            users = [l for l in f.read().splitlines() if l and not l.startswith("#")]
        self.assertEqual(len(users), 1)
        self.assertTrue(re.match(r"^u reach - \".+\" /var/lib/reach$", users[0]), users)
        with open(os.path.join(harness.SOURCE, "systemd", "reach.tmpfiles.conf")) as f:
            dirs = [l.split() for l in f.read().splitlines() if l and not l.startswith("#")]
        self.assertIn(["d", "/etc/reach", "0750", "root", "reach", "-"], dirs)


class SdNotifyTest(unittest.TestCase):
    def setUp(self):
        self.wd = harness.Workdir("notify")
        self.sock_path = os.path.join(self.wd.path, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sock_path)
        self.sock.settimeout(20)

    def tearDown(self):
        self.sock.close()
        self.wd.cleanup()

    def expect(self, want):
        """Reads datagrams until one carries `want` (a KEY=VALUE line); returns all lines seen."""
        seen = []
        deadline = time.time() + 20
        while time.time() < deadline:
            data = self.sock.recv(4096).decode()
            seen.extend(data.splitlines())
            if want in data.splitlines():
                return seen
        self.fail("no %s; saw %s" % (want, seen))

    def test_ready_reload_stopping(self):
        sim = harness.Sim(self.wd.path)
        try:
            cfg = harness.write_config(self.wd.path, sim=sim)
            env = dict(os.environ, NOTIFY_SOCKET=self.sock_path)
            ready = os.path.join(self.wd.path, "reachd.ready")
            log = open(os.path.join(self.wd.path, "reachd.log"), "w")
            proc = subprocess.Popen(
                [harness.REACHD, "--config", cfg, "--data-dir", os.path.join(self.wd.path, "d"),
                 "--listen", "127.0.0.1:0", "--ready-file", ready],
                env=env, stdout=log, stderr=log)
            try:
                self.expect("READY=1")
                # READY=1 means serving: the API answers right away.
                info = harness.wait_file(ready, proc)
                api = harness.Http("http://" + info["http"])
                self.assertEqual(api.get("/readyz")[0], 200)
                proc.send_signal(signal.SIGHUP)
                seen = self.expect("READY=1")
                self.assertIn("RELOADING=1", seen)
                self.assertEqual(api.get("/healthz")[0], 200)
                proc.send_signal(signal.SIGTERM)
                self.expect("STOPPING=1")
                self.assertEqual(proc.wait(30), 0)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                log.close()
        finally:
            sim.stop()


if __name__ == "__main__":
    unittest.main()
