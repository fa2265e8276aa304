"""The demo authorization server's WSGI app behind a keep-alive HTTP/1.1 front, for the token-fetch case.

Werkzeug's development server closes every connection after one answer, so a pooled client
cannot keep one; real identity providers keep connections alive. This small stdlib front
serves the same Flask app (the same Authlib token endpoint) and keeps each connection open,
so both nb_oauth's pooled session and the baseline's pooled ``Session.post`` reuse theirs.
Requests must carry a ``Content-Length`` body (every token request does); answers are sent
with one.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _handler(app: WsgiApp, port: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            environ: dict[str, Any] = {
                "REQUEST_METHOD": self.command, "SCRIPT_NAME": "", "PATH_INFO": unquote(path),
                "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": str(port),
                "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": self.client_address[0],
                "CONTENT_LENGTH": str(length), "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
                "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False,
                "wsgi.run_once": False,
            }
            for key, value in self.headers.items():
                name = key.upper().replace("-", "_")
                if name not in ("CONTENT_LENGTH", "CONTENT_TYPE"):
                    environ["HTTP_" + name] = value
            started: list[Any] = []

            def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                started[:] = [status, headers]
                return lambda data: None

            result = app(environ, start_response)
            try:
                payload = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            status, headers = started
            head = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers if k.lower() != "content-length"]
            head.append(f"Content-Length: {len(payload)}")
            self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)

        do_GET = do_POST = _serve

    return Handler


class KeepAliveFront:
    """``app`` served on loopback with keep-alive, on a daemon thread of this process."""

    def __init__(self, app: WsgiApp) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
        self._httpd.daemon_threads = True
        self._httpd.RequestHandlerClass = _handler(app, self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True, name="bench-keepalive")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> KeepAliveFront:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
