"""A real SMTP server for tests: Debian's python3-aiosmtpd, saving each message it receives.

usage: smtp_capture.py OUTDIR READY_FILE [--reject RCPT=REPLY]...

Binds 127.0.0.1 on a free port, writes {"port": N} to READY_FILE, and stores every accepted
message as OUTDIR/<n>.json ({"mail_from", "rcpt_tos", "data"}). A --reject rule answers RCPT TO
for that address with the given reply (e.g. "550 5.1.1 No such user"). Runs until SIGTERM.
"""
import asyncio
import json
import os
import signal
import socket
import sys
import threading

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, outdir, rejects):
        self.outdir = outdir
        self.rejects = rejects
        self.count = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.rejects:
            return self.rejects[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        record = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                  "data": envelope.original_content.decode("utf-8", "surrogateescape"),
                  "peer": list(session.peer)}
        tmp = os.path.join(self.outdir, "%06d.tmp" % n)
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.outdir, "%06d.json" % n))
        return "250 2.0.0 Message accepted for delivery"


def main():
    outdir, ready = sys.argv[1], sys.argv[2]
    rejects = {}
    args = sys.argv[3:]
    while args:
        if args[0] == "--reject":
            addr, reply = args[1].split("=", 1)
            rejects[addr] = reply
            args = args[2:]
        else:
            raise SystemExit("unknown argument " + args[0])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # decode_data=False keeps the exact bytes; the test parses them with the email package.
    controller = Controller(Handler(outdir, rejects), hostname="127.0.0.1", port=port,
                            decode_data=False)
    controller.start()
    with open(ready + ".tmp", "w") as f:
        json.dump({"port": port}, f)
    os.rename(ready + ".tmp", ready)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
