"""What a serving process claims before it changes anything: its listening sockets and its
data dir.

A port is bound (and listened on) at once, never checked for being free and bound later:
between a check and a bind another process can take it, and two processes started at the
same moment would each believe it theirs. The data dir is claimed with an advisory lock
the kernel releases when the process dies, so a crash never leaves a stale claim behind.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
from pathlib import Path

from saas_server.core.errors import ConfigurationError

LISTEN_BACKLOG = 2048
SERVE_LOCK_FILE = "serve.lock"


def listen_on(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening (``port`` 0: any free port).

    Listening at once matters on Linux: two sockets with ``SO_REUSEADDR`` may bind the same
    address as long as neither listens, so a socket only bound is not yet ours alone.
    Raises ``OSError`` (``EADDRINUSE`` when the port is taken)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # Lets a restarted server take its port back from connections in TIME_WAIT; an
        # address some socket listens on stays refused.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it. A server that makes its own socket sets it on
        # each connection; one handed a socket (uvicorn with uvloop) does not, and then
        # Nagle's algorithm meets delayed ACKs: about 40 ms on every small answer.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def listen_or_explain(host: str, port: int, what: str, suspect: str = "") -> socket.socket:
    """``listen_on``, or a ``ConfigurationError`` saying in one sentence why not
    (``suspect``: the likely holder of a port in use, named in the message)."""
    try:
        return listen_on(host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigurationError(
                f"Cannot serve {what} on {host}:{port}: the port is in use by another "
                f"program{f' ({suspect}?)' if suspect else ''}; stop it or choose another "
                "port (--port)."
            ) from None
        raise ConfigurationError(
            f"Cannot serve {what} on {host}:{port}: {exc.strerror or exc}."
        ) from None


def bound_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class DataDirLock:
    """One serving process per data dir: an exclusive ``flock`` on ``<data dir>/serve.lock``,
    which also records the holder's pid for the message the next process prints."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir).expanduser().resolve() / SERVE_LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise ConfigurationError(
                f"The data dir {self.path.parent} is in use by another `saas serve`"
                f"{f' (pid {holder})' if holder.isdigit() else ''}; stop it, or give this one "
                "its own SAAS_DATA_DIR."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None
