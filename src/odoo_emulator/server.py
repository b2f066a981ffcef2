"""Running the emulator: in the foreground (the CLI) or in a background thread (tests)."""

from __future__ import annotations

import logging
import signal
import threading
import time

import uvicorn

from odoo_emulator.app import create_app
from odoo_emulator.config import EmulatorConfig
from odoo_emulator.runtime import Emulator

logger = logging.getLogger(__name__)


def serve(config: EmulatorConfig) -> None:
    """Serve until interrupted (SIGINT/SIGTERM), then close everything, the embedded
    PostgreSQL included."""
    emulator = Emulator(config)
    emulator.start_sync()
    try:
        uvicorn_config = uvicorn.Config(
            create_app(emulator),
            host=config.host,
            port=config.port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the
        # handler installed before it; with the default handlers that would kill the process
        # before the embedded PostgreSQL is stopped, so no-op handlers are installed first.
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: None)
        uvicorn.Server(uvicorn_config).run()
    finally:
        emulator.stop_sync()


class BackgroundServer:
    """The emulator served by uvicorn in a thread of this process (for tests and embedding)."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.emulator = Emulator(config)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.config.port}"

    def start(self, timeout: float = 60.0) -> str:
        self.emulator.start_sync()
        uvicorn_config = uvicorn.Config(
            create_app(self.emulator),
            host=self.config.host,
            port=self.config.port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        self._server = uvicorn.Server(uvicorn_config)
        self._thread = threading.Thread(target=self._server.run, name="odoo-emulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the Odoo emulator did not start on {self.url}")
            time.sleep(0.05)
        return self.url

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)
        self.emulator.stop_sync()
