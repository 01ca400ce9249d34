"""A worker's own Prometheus endpoint: ``lector worker --metrics-port N`` answers
``GET /metrics`` on that port with what this worker counted (jobs, pages, engine time, tokens,
webhook attempts), so that Prometheus scrapes each worker directly.

Such a worker keeps its metrics in a private directory, out of ``LECTOR_METRICS_DIR`` even when
that is set (``service.worker``): the API's ``/metrics`` sums that directory, and a job must
not be counted by two targets. The queue's gauges come from the API alone: they are read from
Redis and are the same everywhere. ``LECTOR_METRICS_KEY`` guards the port as it guards the
API's ``/metrics``.

The server is a thread of the worker. The processes the worker forks (its work horse, its
scheduler) close the listening socket at once, so that no child holds the port after its
parent is gone.
"""

from __future__ import annotations

import hmac
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from service.metrics import exposition
from service.settings import Settings


def serve_metrics(settings: Settings, host: str, port: int) -> ThreadingHTTPServer:
    """Listen on ``host:port`` and answer ``GET /metrics`` from a daemon thread with this
    process's metrics; OSError when the address cannot be taken. Call after ``configure_metrics``."""
    key = settings.metrics_key

    class Handler(BaseHTTPRequestHandler):
        server_version = "lector-worker"
        sys_version = ""

        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self._answer(404, b"Not found: the metrics are at /metrics.\n")
            elif key is not None and not _bearer_matches(self.headers.get("Authorization", ""), key):
                self._answer(401, b"Invalid key for /metrics: send LECTOR_METRICS_KEY as a Bearer token.\n")
            else:
                body, content_type = exposition()
                self._answer(200, body, content_type)

        def _answer(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a scrape every few seconds is not worth a log line

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    os.register_at_fork(after_in_child=server.socket.close)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


def _bearer_matches(header: str, key: str) -> bool:
    scheme, _, given = header.partition(" ")
    # Bytes: compare_digest refuses str with characters outside ASCII, which a client may send.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), key.encode())
