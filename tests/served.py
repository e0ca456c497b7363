"""An ASGI app served over real HTTP by uvicorn in a thread, for clients that need a socket (streamed
responses read as they come, the MCP SDK's Streamable HTTP client, a `freshrag mcp` subprocess)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

from tests.redis_server import free_port


@contextlib.contextmanager
def served(app: Any) -> Iterator[str]:
    """Serve `app` on a free loopback port while the block runs; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
