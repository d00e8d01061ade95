#!/usr/bin/python3
"""The services Notify talks to, as real servers for the tests: an HTTPS endpoint (standing in
for ntfy, a webhook receiver, Telegram's Bot API, Pushover) and an SMTP server, both over real
TLS with the certificates the test generated.

Each records what it was sent as JSON lines in --record, so a test asserts the exact bytes that
crossed the wire, and answers from --script, a JSON list the test may rewrite at any time: one
entry per request, in order, the last one repeating; a script written again (renamed into place,
as the Swift wrappers do) starts over, even with the same text. Without a script the answer is a
success. Once listening, it prints `port N` on standard output.

    notify-receiver.py https --cert C --key K --record FILE [--script FILE] [--port N]
        script entries: {"status": 429, "headers": {"Retry-After": "7"}, "body": "slow down",
                         "delay_s": 0}  (delay_s before answering: a hung service)
        records: {"method", "path" (with query), "headers": [[name, value], ...], "body" (base64)}

    notify-receiver.py smtp --cert C --key K --record FILE [--script FILE] [--port N]
                            [--user U --password P] [--tls starttls|implicit|none]
        script entries: the reply to DATA, e.g. "451 4.3.0 try again", "550 5.1.1 no such user"
        records: {"mail_from", "rcpt_tos", "data" (base64, as received), "tls", "login", "reply"}
        starttls (the default) refuses every command before STARTTLS; with --user, AUTH is
        required and accepted only for that user and password, only over TLS. none is a plain
        server that offers no STARTTLS at all, which a client must refuse to send to.

Debian's python3 and python3-aiosmtpd only (scripts/install-packages.sh).
"""

import argparse
import asyncio
import base64
import http.server
import json
import os
import ssl
import sys
import threading
import time


class Script:
    """The answers, re-read from the file on every request; consumed in order, the last repeating."""

    def __init__(self, path, default):
        self.path = path
        self.default = default
        self.seen = None
        self.index = 0
        self.lock = threading.Lock()

    def next(self):
        with self.lock:
            text, seen = None, None
            if self.path:
                try:
                    with open(self.path, encoding="utf-8") as f:
                        # The test writes a new file and renames it into place, so the inode
                        # tells a rewrite from the same script, even one with the same text.
                        seen = (os.fstat(f.fileno()).st_ino, f.read())
                        text = seen[1]
                except FileNotFoundError:
                    pass
            if seen != self.seen:
                self.seen = seen
                self.index = 0
            entries = json.loads(text) if text else []
            if not entries:
                return self.default
            entry = entries[min(self.index, len(entries) - 1)]
            self.index += 1
            return entry


class Recorder:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def write(self, record):
        line = json.dumps(record, sort_keys=True) + "\n"
        with self.lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()


def exit_with_parent(parent):
    """The test process may die without stopping us (a crash, a killed run): leave with it."""
    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)
    threading.Thread(target=watch, daemon=True).start()


def announce(port):
    print(f"port {port}", flush=True)


def serve_https(args):
    recorder = Recorder(args.record)
    script = Script(args.script, {"status": 200, "body": "ok"})

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorder.write({
                "method": self.command,
                "path": self.path,
                "headers": [[name, value] for name, value in self.headers.items()],
                "body": base64.b64encode(body).decode("ascii"),
            })
            answer = script.next()
            time.sleep(float(answer.get("delay_s", 0)))
            payload = answer.get("body", "").encode("utf-8")
            self.send_response(int(answer.get("status", 200)))
            for name, value in answer.get("headers", {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = handle_any

        def log_message(self, format, *arguments):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    announce(server.server_address[1])
    server.serve_forever()


def serve_smtp(args):
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

    recorder = Recorder(args.record)
    script = Script(args.script, "250 OK")
    context = None
    if args.tls != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            reply = script.next()
            tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
            login = session.auth_data.login.decode("utf-8") if isinstance(session.auth_data, LoginPassword) else None
            recorder.write({
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "data": base64.b64encode(envelope.original_content or b"").decode("ascii"),
                "tls": tls,
                "login": login,
                "reply": reply,
            })
            return reply

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and args.user is not None
              and auth_data.login == args.user.encode("utf-8") and auth_data.password == args.password.encode("utf-8"))
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def protocol():
        return SMTP(Handler(), hostname="reef-test-smtp",
                    tls_context=context if args.tls == "starttls" else None,
                    require_starttls=args.tls == "starttls",
                    auth_required=args.user is not None,
                    auth_require_tls=args.tls == "starttls",
                    authenticator=authenticate)

    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(protocol, "127.0.0.1", args.port,
                                          ssl=context if args.tls == "implicit" else None)
        announce(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["https", "smtp"])
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--record", required=True)
    parser.add_argument("--script")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user")
    parser.add_argument("--password", default="")
    parser.add_argument("--parent", type=int, help="exit when this process (the test) is gone")
    parser.add_argument("--tls", choices=["starttls", "implicit", "none"], default="starttls")
    args = parser.parse_args()
    if (args.mode == "https" or args.tls != "none") and not (args.cert and args.key):
        parser.error("--cert and --key are required for TLS")
    open(args.record, "a").close()
    if args.parent:
        exit_with_parent(args.parent)
    if args.mode == "https":
        serve_https(args)
    else:
        serve_smtp(args)


if __name__ == "__main__":
    main()
