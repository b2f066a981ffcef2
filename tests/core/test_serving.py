"""What ``saas serve`` claims before it changes anything: its port and its data dir."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from saas_server.core.errors import ConfigurationError
from saas_server.core.serving import DataDirLock, listen_on, listen_or_explain
from saas_server.instances.hosts.emulator import emulator_ports


def test_a_listening_port_cannot_be_bound_again_even_with_reuseaddr() -> None:
    first = listen_on("127.0.0.1", 0)
    port = first.getsockname()[1]
    try:
        with pytest.raises(OSError) as raised:
            listen_on("127.0.0.1", port)
        assert raised.value.errno == errno.EADDRINUSE
        with pytest.raises(ConfigurationError, match=rf"127\.0\.0\.1:{port}.*in use"):
            listen_or_explain("127.0.0.1", port, "the API")
    finally:
        first.close()


def test_the_data_dir_is_claimed_by_one_process_and_freed_on_release(tmp_path: Path) -> None:
    holder = DataDirLock(tmp_path)
    holder.acquire()
    try:
        with pytest.raises(ConfigurationError, match=rf"{tmp_path}.*in use.*pid {os.getpid()}"):
            DataDirLock(tmp_path).acquire()
    finally:
        holder.release()
    again = DataDirLock(tmp_path)
    again.acquire()
    again.release()


def test_a_killed_holder_leaves_no_stale_claim(tmp_path: Path) -> None:
    code = (
        "import sys, time; from saas_server.core.serving import DataDirLock; "
        "DataDirLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(600)"
    )
    process = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None and process.stdout.readline() == b"held\n"
        with pytest.raises(ConfigurationError, match=f"pid {process.pid}"):
            DataDirLock(tmp_path).acquire()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    lock = DataDirLock(tmp_path)
    lock.acquire()
    lock.release()


def test_every_supported_version_gets_its_own_port() -> None:
    assert emulator_ports("18.0", 8069) == {"18.0": 8069, "17.0": 8070, "19.0": 8071}
    assert emulator_ports("17.0", 9000) == {"17.0": 9000, "18.0": 9001, "19.0": 9002}
    assert emulator_ports("18.0", 0) == {"18.0": 0, "17.0": 0, "19.0": 0}
    assert emulator_ports("18.0", 65535) == {"18.0": 65535, "17.0": 0, "19.0": 0}


def test_listen_on_any_port_answers_the_port_bound() -> None:
    sock = listen_on("127.0.0.1", 0)
    try:
        with socket.create_connection(sock.getsockname()[:2], timeout=5):
            pass
    finally:
        sock.close()


def test_connections_accepted_on_a_bound_socket_do_not_wait_for_nagle() -> None:
    """uvicorn with uvloop, handed a socket, does not set TCP_NODELAY on the connections it
    accepts; they inherit it from the listener, or every small answer waits ~40 ms for a
    delayed ACK (measured: 365 instead of 6,200 requests a second in bench/auth.py)."""
    listener = listen_on("127.0.0.1", 0)
    try:
        with socket.create_connection(listener.getsockname()[:2], timeout=5):
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        listener.close()
