"""The sandbox's HTTP/1.1 server: a threaded http.server that speaks WSGI and keeps alive.

werkzeug's development server answers every request with "Connection: close",
so each request would cost a client a new TCP connection, which Hawzu itself
does not. The sandbox's app is small and buffered, so a WSGI bridge is short:
read the whole body, call the app, answer with a Content-Length.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes, urlsplit

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

logger = logging.getLogger(__name__)

INTERNAL_ERROR = b'{"error": {"code": "INTERNAL", "message": "the sandbox failed; see its log"}}'
BAD_BODY = (
    b'{"error": {"code": "BAD_REQUEST", "message": "cannot tell where the body ends", '
    b'"details": {}}}'
)
JSON = ("Content-Type", "application/json")
MAX_LINE = 65536  # as http.server allows for a request line
# An idle kept-alive connection holds a thread; let it go eventually.
IDLE_TIMEOUT = 30.0


class WSGIServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default queue of 5 drops the handshakes of a burst of
    # clients (sessions and shards starting together), which then wait
    # seconds for a retransmission; let the system's limit decide instead.
    request_queue_size = socket.SOMAXCONN

    def __init__(
        self,
        address: tuple[str, int],
        app: WSGIApplication,
        handler: type[Handler],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.clock = clock
        # Before binding: a port in use makes the base class call server_close().
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        # Each kept-alive connection has a thread of its own that would go on
        # answering after the server stopped: hang up on them, so that a
        # stopped sandbox is down for every client, as a real outage would be.
        with self._open_lock:
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


class Handler(BaseHTTPRequestHandler):
    """One WSGI call per request; quiet unless told to log."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
    # Headers and body leave in two writes; with Nagle's algorithm the body
    # would wait for the client's delayed ACK, some 40 ms per answer.
    disable_nagle_algorithm = True
    server: WSGIServer
    access_log = False

    def handle(self) -> None:
        # A client that timed out or hung up is the point of many tests, not an error.
        with contextlib.suppress(ConnectionError, TimeoutError):
            super().handle()

    def _serve(self) -> None:
        try:
            body = self._body()
        except ValueError:
            # Where the body ends is unknown, so the next request cannot be
            # found: answer as a server would, and hang up.
            self.close_connection = True
            self._respond("400 Bad Request", [JSON], BAD_BODY)
            return
        answer: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            answer[:] = [status, headers]
            return lambda data: None  # the sandbox's app never writes this way

        try:
            data = b"".join(self.server.app(self._environ(body), start_response))
        except ConnectionError:
            self.close_connection = True  # an injected drop: nothing more to say
            return
        except Exception:
            # A bug in the sandbox: say so, as a server would, and keep serving.
            logger.exception("sandbox error on %s %s", self.command, self.path)
            answer[:] = ["500 Internal Server Error", [JSON]]
            data = INTERNAL_ERROR
        status, headers = answer
        self._respond(status, headers, data)

    def _body(self) -> bytes:
        # Reading every body, whatever the app does with it, keeps the next
        # request on this connection parseable.
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._chunked_body()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError(f"negative Content-Length {length}")
        return self.rfile.read(length) if length else b""

    def _chunked_body(self) -> bytes:
        """A body streamed by the client (RFC 9112, 7.1): sized chunks, then trailers."""
        chunks = []
        while True:
            size = int(self.rfile.readline(MAX_LINE).split(b";")[0], 16)
            if size < 0:
                raise ValueError(f"negative chunk size {size}")
            if size == 0:
                break
            chunks.append(self.rfile.read(size))
            self.rfile.readline(MAX_LINE)  # the line end after the chunk
        while self.rfile.readline(MAX_LINE).strip():
            pass  # trailer fields, of no interest here
        return b"".join(chunks)

    def _respond(self, status: str, headers: list[tuple[str, str]], data: bytes) -> None:
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve

    def _environ(self, body: bytes) -> WSGIEnvironment:
        url = urlsplit(self.path)
        host, port = self.client_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(url.path).decode("latin-1"),
            "QUERY_STRING": url.query,
            "REQUEST_URI": self.path,  # still percent-encoded: case IDs may hold "/"
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "SERVER_NAME": self.server.server_address[0],
            "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": host,
            "REMOTE_PORT": port,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            # The whole body, already read: even a chunked one has its end here.
            "wsgi.input_terminated": True,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "werkzeug.socket": self.connection,
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header is on the sandbox's clock, like its Retry-After
        # dates and X-RateLimit-Reset: a client reads those against it.
        return super().date_time_string(self.server.clock() if timestamp is None else timestamp)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.access_log:  # the request line and status; headers never
            super().log_request(code, size)

    def log_error(self, format: str, *args: Any) -> None:
        pass  # idle timeouts and clients hanging up are not news


def make_server(
    host: str,
    port: int,
    app: WSGIApplication,
    *,
    access_log: bool,
    clock: Callable[[], float] = time.time,
) -> WSGIServer:
    handler = type("SandboxHandler", (Handler,), {"access_log": access_log})
    return WSGIServer((host, port), app, handler, clock)
