"""Running the emulator: in the foreground (``python -m odoo_emulator``, ``serve_listeners``) or
in a background thread (tests, ``BackgroundServer``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator

import uvicorn

from odoo_emulator.app import create_app
from odoo_emulator.config import EmulatorConfig
from odoo_emulator.runtime import Emulator

logger = logging.getLogger(__name__)


class _SharedSignalsServer(uvicorn.Server):
    """A uvicorn server that leaves signals to its caller: several run in one event loop,
    and uvicorn's own handler would reach only the last one started."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def serve_listeners(
    listeners: list[tuple[EmulatorConfig, socket.socket]], control: socket.socket | None = None
) -> None:
    """Serve each config (one Odoo version each) on its already bound socket, in this one
    process, until SIGINT/SIGTERM, or until ``control`` reaches end of file.

    ``control`` is the supervisor's end of the conversation (``saas serve``, see
    saas_server/instances/hosts/emulator.py): once every server accepts requests, one JSON line
    ``{"listening": {"<serie>": "http://host:port", ...}, "pid": ...}`` is written to it, read
    from the sockets themselves; the supervisor registers those addresses and nothing else.
    Its end of file means the supervisor is gone (even killed): the emulator stops rather
    than outlive the platform that started it."""
    emulators = [Emulator(config) for config, _ in listeners]
    started: list[Emulator] = []
    try:
        for emulator in emulators:
            emulator.start_sync()
            started.append(emulator)
        sockets = [sock for _, sock in listeners]
        asyncio.run(_serve_all(list(zip(emulators, sockets, strict=True)), control))
    finally:
        for emulator in reversed(started):
            emulator.stop_sync()


async def _serve_all(
    listeners: list[tuple[Emulator, socket.socket]], control: socket.socket | None
) -> None:
    servers = [
        _SharedSignalsServer(
            uvicorn.Config(create_app(emulator), log_config=None, access_log=False, lifespan="on")
        )
        for emulator, _ in listeners
    ]

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    loop = asyncio.get_running_loop()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
    tasks = [
        asyncio.create_task(server.serve(sockets=[sock]), name=f"odoo-{emulator.version.serie}")
        for server, (emulator, sock) in zip(servers, listeners, strict=True)
    ]
    watcher: asyncio.Task[None] | None = None
    try:
        while not all(server.started for server in servers):
            if any(task.done() for task in tasks):
                stop()  # one could not start: none serves
                break
            await asyncio.sleep(0.05)
        else:
            if control is not None:
                watcher = asyncio.create_task(_report_and_watch(listeners, control, stop))
        await asyncio.gather(*tasks)
    finally:
        stop()
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


async def _report_and_watch(
    listeners: list[tuple[Emulator, socket.socket]],
    control: socket.socket,
    stop: Callable[[], None],
) -> None:
    loop = asyncio.get_running_loop()
    control.setblocking(False)
    report = {
        "listening": {emulator.version.serie: _url(sock) for emulator, sock in listeners},
        "pid": os.getpid(),
    }
    try:
        await loop.sock_sendall(control, (json.dumps(report) + "\n").encode())
        while await loop.sock_recv(control, 1024):
            pass
    except OSError:
        pass
    logger.info("the supervisor is gone; stopping")
    stop()


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


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
