"""The README's quick start, as written: `make run` (scripts/run.sh), the curl command the README
shows, then `reachctl status ID` shows the message sent with its attempt.

The README uses the default ports (8080, 9090, 2525). So that the test runs beside anything else,
it moves them to free ports (the same substitution in the README's commands and the config)."""
import json
import os
import re
import signal
import subprocess
import time
import unittest

import harness


def readme_quickstart():
    with open(os.path.join(harness.SOURCE, "README.md")) as f:
        text = f.read()
    block = text.split("<!-- quickstart:begin -->", 1)[1].split("<!-- quickstart:end -->", 1)[0]
    code = block.split("```sh", 1)[1].split("```", 1)[0]
    commands, current = [], ""
    for line in code.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        current += line.rstrip("\\") + (" " if line.endswith("\\") else "")
        if not line.endswith("\\"):
            commands.append(current.strip())
            current = ""
    return commands


class QuickstartTest(unittest.TestCase):
    def test_readme_quickstart(self):
        wd = harness.Workdir("quickstart")
        ports = {"8080": harness.free_port(), "9090": harness.free_port(),
                 "2525": harness.free_port()}

        def sub(s):
            for old, new in ports.items():
                s = s.replace("127.0.0.1:" + old, "127.0.0.1:%d" % new)
            return s

        with open(os.path.join(harness.SOURCE, "config", "reachd.yaml")) as f:
            cfg = sub(f.read())
        cfg = cfg.replace("dir: templates", "dir: " + os.path.join(harness.SOURCE, "config",
                                                                   "templates"))
        cfg = re.sub(r"data_dir: \S+", "data_dir: " + os.path.join(wd.path, "data"), cfg)
        cfg_path = os.path.join(wd.path, "reachd.yaml")
        with open(cfg_path, "w") as f:
            f.write(cfg)
        env = dict(os.environ, REACH_CONFIG=cfg_path,
                   REACH_LISTEN="127.0.0.1:%d" % ports["8080"],
                   REACH_SIM_HTTP="127.0.0.1:%d" % ports["9090"],
                   REACH_SIM_SMTP="127.0.0.1:%d" % ports["2525"])
        run = subprocess.Popen(["bash", os.path.join(harness.SOURCE, "scripts", "run.sh"),
                                harness.BUILD], env=env, cwd=harness.SOURCE,
                               stdout=open(os.path.join(wd.path, "run.log"), "w"),
                               stderr=subprocess.STDOUT, start_new_session=True)
        try:
            api = harness.Http("http://127.0.0.1:%d" % ports["8080"])
            deadline = time.time() + 30
            while time.time() < deadline:
                try:
                    if api.get("/readyz")[0] == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.1)
            commands = readme_quickstart()
            self.assertEqual(len(commands), 2, commands)
            self.assertTrue(commands[0].startswith("curl "), commands)
            out = subprocess.run(sub(commands[0]), shell=True, capture_output=True, text=True,
                                 cwd=harness.SOURCE, check=True).stdout
            msg_id = json.loads(out)["id"]
            self.assertEqual(json.loads(out)["status"], "queued")
            status_cmd = sub(commands[1]).replace("msg_1", msg_id)
            self.assertTrue(status_cmd.startswith("build/tools/reachctl status"), status_cmd)
            status_cmd = status_cmd.replace("build/", harness.BUILD.rstrip("/") + "/", 1)
            env_ctl = dict(os.environ, REACH_SERVER="http://127.0.0.1:%d" % ports["8080"])
            deadline = time.time() + 30
            while True:
                r = subprocess.run(status_cmd, shell=True, capture_output=True, text=True,
                                   cwd=harness.SOURCE, env=env_ctl)
                if re.search(r"\bsent\b", r.stdout) or time.time() > deadline:
                    break
                time.sleep(0.1)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertRegex(r.stdout, r"status:?\s+sent")
            self.assertRegex(r.stdout, r"smtp")  # the attempt line names the provider
            # And the e-mail arrived at the simulator's SMTP sink.
            sim = harness.Http("http://127.0.0.1:%d" % ports["9090"])
            s, mails = sim.get("/_sim/smtp/messages?limit=10")
            self.assertEqual(s, 200)
            self.assertEqual(len(mails if isinstance(mails, list) else mails["messages"]), 1)
        finally:
            os.killpg(run.pid, signal.SIGINT)
            self.assertEqual(run.wait(30), 0)
            wd.cleanup()


if __name__ == "__main__":
    unittest.main()
