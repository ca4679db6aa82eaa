"""A real HTTP receiver on 127.0.0.1 for the webhook tests (http.server in a thread, never a mock), and an
API token maker (the token model is the api branch's; its services are not needed here)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from app.api.models import ApiToken, TokenScope
from app.db import utcnow


class Receiver:
    """Accepts POSTs and keeps them; `script` lists the answers to give first ("500", "slow", "redirect"),
    then 200 for every request after it."""

    def __init__(self, slow_seconds: float = 1.5) -> None:
        self.received: list[dict] = []
        self.script: list[str] = []
        self.slow_seconds = slow_seconds
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner.lock:
                    answer = owner.script.pop(0) if owner.script else "200"
                    if answer == "200":
                        owner.received.append({"headers": dict(self.headers), "body": body,
                                               "json": json.loads(body), "path": self.path})
                if answer == "slow":
                    time.sleep(owner.slow_seconds)
                    answer = "200"  # too late: the sender gave up waiting, so it is not kept as received
                try:
                    if answer == "redirect":
                        self.send_response(302)
                        self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                        self.end_headers()
                        return
                    self.send_response(int(answer))
                    self.send_header("Content-Type", "text/plain; charset=utf-8")
                    self.end_headers()
                    self.wfile.write("收到".encode() if answer == "200" else b"boom")
                except (BrokenPipeError, ConnectionResetError):  # the sender stopped waiting (the slow answer)
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/metrology?k=1"

    def events(self) -> list[dict]:
        """The payloads received, in arrival order."""
        with self.lock:
            return [r["json"] for r in self.received]

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()


def closed_port_url() -> str:
    """An address on loopback where nothing listens (the connection is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def api_token(session, name: str, scope: TokenScope = TokenScope.READ, stations=(), body=None,
              expires_at: dt.datetime | None = None) -> ApiToken:
    """An API token record (the secret itself is not needed by webhooks)."""
    secret = secrets.token_urlsafe(24)
    token = ApiToken(name=name, prefix=secret[:8], token_hash=hashlib.sha256(secret.encode()).hexdigest(),
                     scope=scope, body_id=getattr(body, "id", None),
                     expires_at=expires_at or utcnow() + dt.timedelta(days=365), rate_per_minute=600)
    token.stations = list(stations)
    session.add(token)
    session.flush()
    return token
