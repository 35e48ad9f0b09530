"""A small threaded HTTP server on 127.0.0.1 (a free port) serving a directory, for tests.

Routes besides the files themselves:

* ``/404/<anything>``: always 404 Not Found;
* ``/status/<code>/<anything>``: always that status (e.g. 500);
* ``/slow/<path>``: waits ``slow`` seconds, then serves ``<path>`` (for timeouts);
* ``/truncated/<path>``: announces the full ``Content-Length`` of ``<path>`` but sends only half of
  it, then closes the connection;
* ``/flaky/<n>/<path>``: 503 for the first ``n`` requests of that URL, then serves ``<path>``.

``server.hits`` counts the requests per URL path.

Example:
    >>> import tempfile, pathlib, urllib.request
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "a.txt").write_bytes(b"hello")
    >>> with serve(d) as server:
    ...     urllib.request.urlopen(server.url + "/a.txt").read()
    b'hello'
"""

from __future__ import annotations

import collections
import functools
import http.server
import os
import threading


class _Handler(http.server.SimpleHTTPRequestHandler):
    server: "_HTTPServer"

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def _serve_file(self, rel: str) -> None:
        self.path = "/" + rel
        super().do_GET()

    def do_GET(self):  # noqa: N802 - http.server's naming
        srv = self.server
        with srv.lock:
            srv.hits[self.path] += 1
            count = srv.hits[self.path]
        parts = self.path.lstrip("/").split("/")
        route = parts[0]
        if route == "404":
            self.send_error(404, "Not Found")
        elif route == "status":
            self.send_error(int(parts[1]), "Forced status")
        elif route == "slow":
            if srv.stopping.wait(srv.slow):
                return
            self._serve_file("/".join(parts[1:]))
        elif route == "truncated":
            path = os.path.join(self.directory, *parts[1:])
            with open(path, "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif route == "flaky":
            if count <= int(parts[1]):
                self.send_error(503, "Service Unavailable")
            else:
                self._serve_file("/".join(parts[2:]))
        else:
            super().do_GET()


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many concurrent client connections (the default backlog is 5)

    def __init__(self, directory: str, slow: float):
        super().__init__(("127.0.0.1", 0), functools.partial(_Handler, directory=directory))
        self.slow = slow
        self.hits: collections.Counter = collections.Counter()
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def handle_error(self, request, client_address):
        """A client that hung up (after a timeout, say) is expected here; others are reported."""
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class Server:
    """A running server; ``url`` is its base URL (no trailing slash). Use as a context manager.

    Example:
        >>> import tempfile
        >>> with serve(tempfile.mkdtemp()) as s:
        ...     s.url.startswith("http://127.0.0.1:")
        True
    """

    def __init__(self, directory: str | os.PathLike, slow: float = 5.0):
        self._httpd = _HTTPServer(os.fspath(directory), slow)
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True,
                                        name="test-http-server")
        self._thread.start()

    @property
    def hits(self) -> collections.Counter:
        return self._httpd.hits

    def close(self) -> None:
        self._httpd.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def serve(directory: str | os.PathLike, slow: float = 5.0) -> Server:
    """Start a :class:`Server` for ``directory`` (``slow``: seconds the ``/slow/`` route waits)."""
    return Server(directory, slow)
