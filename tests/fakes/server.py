"""Serve an ASGI app with uvicorn on a free loopback port, in a background thread.

    with serve(app) as base_url:
        httpx.get(f"{base_url}/path")

The server runs its own event loop in its thread, so it works the same from sync tests and from
async tests running on the session loop. It is stopped (and the thread joined) on exit, even when
the body raised.
"""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

STARTUP_TIMEOUT_SECONDS = 10.0


@contextmanager
def serve(app: object) -> Iterator[str]:
    """Yield the base URL (`http://127.0.0.1:PORT`) while `app` is being served."""
    # Bind the socket here and hand it to uvicorn: no window in which another process could take
    # a port we picked but had not bound yet.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="auto",
        # fakes that simulate slow answers must not hold the test up at shutdown
        timeout_graceful_shutdown=0.5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"fake-server-{port}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"fake server on 127.0.0.1:{port} exited during start-up")
            if time.monotonic() > deadline:
                raise RuntimeError(f"fake server on 127.0.0.1:{port} did not start within 10 s")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_SECONDS)
        sock.close()
