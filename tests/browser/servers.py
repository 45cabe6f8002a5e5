"""Small real HTTP servers for the browser tests, each in a thread on 127.0.0.1 and its own port.

`SiteServer` serves the test pages: a customer's site, on another origin than the bridge, so the
snippet's requests are real cross-origin ones. `FlakyProxy` stands between the browser and the
bridge and answers 503 to chosen batch requests, to make the snippet retry.
"""

import http.client
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import urlsplit


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name=type(self).__name__, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class _SiteHandler(_Quiet):
    def do_GET(self) -> None:
        pages: dict[str, str] = self.server.owner.pages  # type: ignore[attr-defined]
        html = pages.get(urlsplit(self.path).path)
        if html is None:
            self._reply(404, b"no such page", {"Content-Type": "text/plain"})
            return
        self._reply(200, html.encode(), {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"})


class SiteServer(_Server):
    """Serves `pages` (path -> HTML); every other path is a 404."""

    def __init__(self) -> None:
        super().__init__(_SiteHandler)
        self.pages: dict[str, str] = {}


@dataclass
class ProxiedBatch:
    status: int
    message_ids: list[str]
    forwarded: bool


@dataclass
class _ProxyState:
    fail_batches: int = 0
    forward_failed: bool = False
    batches: list[ProxiedBatch] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _ProxyHandler(_Quiet):
    def do_GET(self) -> None:
        self._forward(None)

    def do_OPTIONS(self) -> None:
        self._forward(None)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._forward(body)

    def _forward(self, body: bytes | None) -> None:
        proxy: FlakyProxy = self.server.owner  # type: ignore[attr-defined]
        state = proxy.state
        is_batch = self.command == "POST" and urlsplit(self.path).path == "/v1/batch"
        with state.lock:
            fail = is_batch and state.fail_batches > 0
            if fail:
                state.fail_batches -= 1
        forward = not fail or state.forward_failed
        status, headers, answer = 503, {}, b'{"success": false, "code": "unavailable"}'
        if forward:
            status, headers, answer = proxy.upstream(self.command, self.path, dict(self.headers), body)
        if fail:
            # As a load balancer in front of a restarting server would answer (with CORS, so the page can read it).
            status, answer = 503, b'{"success": false, "code": "unavailable"}'
            headers = {"Content-Type": "application/json"}
            if self.headers.get("Origin"):
                headers["Access-Control-Allow-Origin"] = self.headers["Origin"]
        if is_batch:
            ids = [message.get("messageId", "") for message in json.loads(body or b"{}").get("batch", [])]
            with state.lock:
                state.batches.append(ProxiedBatch(status, ids, forward))
        self._reply(status, answer, headers)


class FlakyProxy(_Server):
    """Relays every request to `upstream_url`; the next `fail_batches` POST /v1/batch get a 503.

    With `forward_failed`, a failed batch still reaches the bridge before the 503 goes back: an
    acknowledgement lost on the way, the case where only deduplication keeps the retry harmless.
    """

    def __init__(self, upstream_url: str) -> None:
        super().__init__(_ProxyHandler)
        self.upstream_address = urlsplit(upstream_url).netloc
        self.state = _ProxyState()

    def fail_next_batches(self, count: int, *, forward: bool = False) -> None:
        with self.state.lock:
            self.state.fail_batches = count
            self.state.forward_failed = forward

    @property
    def batches(self) -> list[ProxiedBatch]:
        with self.state.lock:
            return list(self.state.batches)

    def upstream(self, method: str, path: str, headers: dict[str, str], body: bytes | None
                 ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(self.upstream_address, timeout=10)
        try:
            relayed = {name: value for name, value in headers.items() if name.lower() not in ("host", "connection")}
            connection.request(method, path, body=body, headers=relayed)
            response = connection.getresponse()
            answer = response.read()
            kept = {name: value for name, value in response.getheaders()
                    if name.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server")}
            return response.status, kept, answer
        finally:
            connection.close()
