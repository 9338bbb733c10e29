"""A real SMTP server for tests: Debian's python3-aiosmtpd, saving each message it receives.

usage: smtp_capture.py OUTDIR READY_FILE [--reject RCPT=REPLY]...
           [--tls starttls|implicit --cert CERT.pem --key KEY.pem]
           [--auth USER:PASSWORD --auth-log FILE] [--auth-mechanisms LOGIN|PLAIN]
           [--pipelining]

Binds 127.0.0.1 on a free port, writes {"port": N} to READY_FILE, and stores every accepted
message as OUTDIR/<n>.json ({"mail_from", "rcpt_tos", "data", "peer", "tls", "auth_login",
"pipelined"}).
A --reject rule answers RCPT TO for that address with the given reply (e.g. "550 5.1.1 No such
user"). Runs until SIGTERM.

--tls starttls offers STARTTLS and requires it before MAIL (require_starttls); --tls implicit
speaks TLS from the first byte (smtps). "tls" in a record is the session's TLS version and
cipher as the server saw them, or null for a plaintext session. --auth requires AUTH (only
offered once the session is encrypted) with that one user and password; every AUTH attempt is
appended to --auth-log as a JSON line {"login", "mechanism", "ok", "tls"} (the password is not
written); --auth-mechanisms offers only that one mechanism.

--pipelining adds PIPELINING (RFC 2920) to the EHLO reply; aiosmtpd reads commands in order from
its stream either way. "pipelined" in a record is whether the client's RCPT TO had already
arrived (in the server's read buffer) when its MAIL FROM was handled, i.e. whether the client
sent them without waiting for the reply.
"""
import asyncio
import json
import os
import signal
import socket
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def tls_state(server):
    """The TLS version and cipher of the server's current transport, or None when plaintext.

    After STARTTLS aiosmtpd swaps in the TLS transport; with implicit TLS it is the listening
    socket's; either way the transport exposes the ssl object."""
    transport = server.transport
    obj = transport.get_extra_info("ssl_object") if transport is not None else None
    if obj is None:
        return None
    return {"version": obj.version(), "cipher": obj.cipher()[0]}


class Authenticator:
    def __init__(self, user, password, log_path):
        self.user = user.encode()
        self.password = password.encode()
        self.log_path = log_path
        self.lock = threading.Lock()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == self.user and
              auth_data.password == self.password)
        login = auth_data.login.decode("utf-8", "replace") if isinstance(
            auth_data, LoginPassword) else None
        if self.log_path:
            with self.lock, open(self.log_path, "a") as f:
                f.write(json.dumps({"login": login, "mechanism": mechanism, "ok": ok,
                                    "tls": tls_state(server)}) + "\n")
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class Handler:
    def __init__(self, outdir, rejects, pipelining):
        self.outdir = outdir
        self.rejects = rejects
        self.pipelining = pipelining
        self.count = 0
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        # StreamReader's buffer is not public API; aiosmtpd itself clears it after STARTTLS.
        envelope.pipelined = b"RCPT" in bytes(server._reader._buffer).upper()
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

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
                  "peer": list(session.peer), "tls": tls_state(server),
                  "auth_login": (session.auth_data.login.decode("utf-8", "replace")
                                 if isinstance(session.auth_data, LoginPassword) else None),
                  "pipelined": getattr(envelope, "pipelined", None)}
        tmp = os.path.join(self.outdir, "%06d.tmp" % n)
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.outdir, "%06d.json" % n))
        return "250 2.0.0 Message accepted for delivery"


def main():
    outdir, ready = sys.argv[1], sys.argv[2]
    rejects = {}
    opts = {"--tls": None, "--cert": None, "--key": None, "--auth": None, "--auth-log": None,
            "--auth-mechanisms": None}
    pipelining = False
    args = sys.argv[3:]
    while args:
        if args[0] == "--pipelining":
            pipelining = True
            args = args[1:]
        elif args[0] == "--reject":
            addr, reply = args[1].split("=", 1)
            rejects[addr] = reply
            args = args[2:]
        elif args[0] in opts and len(args) > 1:
            opts[args[0]] = args[1]
            args = args[2:]
        else:
            raise SystemExit("unknown argument " + args[0])
    kwargs = {}
    if opts["--tls"]:
        if opts["--tls"] not in ("starttls", "implicit"):
            raise SystemExit("--tls must be starttls or implicit")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(opts["--cert"], opts["--key"])
        if opts["--tls"] == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        else:
            kwargs.update(ssl_context=context)
    if opts["--auth"]:
        user, password = opts["--auth"].split(":", 1)
        kwargs.update(auth_required=True, authenticator=Authenticator(user, password,
                                                                      opts["--auth-log"]))
        if opts["--auth-mechanisms"]:
            kwargs.update(auth_exclude_mechanism=[
                m for m in ("LOGIN", "PLAIN") if m != opts["--auth-mechanisms"]])
        if opts["--tls"] == "implicit":
            # aiosmtpd counts only STARTTLS as encryption for auth_require_tls; an implicit-TLS
            # session is encrypted from the first byte.
            kwargs.update(auth_require_tls=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # decode_data=False keeps the exact bytes; the test parses them with the email package.
    controller = Controller(Handler(outdir, rejects, pipelining), hostname="127.0.0.1", port=port,
                            decode_data=False, **kwargs)
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
