"""The emulator's command line: ``python -m odoo_emulator``, and ``saas odoo-emulator``, which
replaces itself with it (the platform never imports the emulator)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

SAAS = str(Path(sys.executable).parent / "saas")
ENTRY_POINTS = {
    "saas": [SAAS, "odoo-emulator"],
    "python -m": [sys.executable, "-m", "odoo_emulator"],
}
MASTER_PASSWORD_ENV = "SAAS_ODOO_EMULATOR_MASTER_PASSWORD"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != MASTER_PASSWORD_ENV}
    return {**env, **extra}


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ["--odoo-version", "16.0"],
            "",
            "Unknown Odoo version '16.0'; the emulator plays 17.0, 18.0, 19.0.",
        ),
        (["--port", "0"], "", "The port must be between 1 and 65535, not 0."),
        (["--port", "65536"], "", "The port must be between 1 and 65535, not 65536."),
        (["--listen-fd", "18.0"], "", "--listen-fd takes SERIE=FD, not '18.0'."),
        (
            ["--master-password-stdin", "--port", "{taken}"],
            "\n",
            "No master password was given on standard input.",
        ),
        (
            ["--port", "{taken}"],
            "",
            "Cannot serve the Odoo emulator on 127.0.0.1:{taken}: the port is in use by "
            "another program; stop it or choose another port (--port).",
        ),
        (
            # A socket directory that does not exist: refused at once, no timeout to wait.
            ["--port", "{closed}", "--postgres-url", "postgresql://nobody@/x?host=/nonexistent"],
            "",
            "Cannot reach PostgreSQL at the given URL: ",
        ),
    ],
)
def test_refusals_are_one_sentence_before_anything_is_created(
    entry: str,
    args: list[str],
    stdin: str,
    message: str,
    taken_port: int,
    closed_port: int,
    tmp_path: Path,
) -> None:
    def fill(text: str) -> str:
        return text.replace("{taken}", str(taken_port)).replace("{closed}", str(closed_port))

    data_dir = tmp_path / "data"
    result = subprocess.run(
        [*ENTRY_POINTS[entry], "--data-dir", str(data_dir), *(fill(a) for a in args)],
        input=stdin.encode(),
        capture_output=True,
        env=_env(),
        timeout=60,
    )
    stderr = result.stderr.decode()
    assert result.returncode == 1, stderr
    assert stderr.strip().splitlines()[-1].startswith(f"Error: {fill(message)}"), stderr
    assert not data_dir.exists(), "the data dir is created only once every check passed"


def _wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the emulator exited with {process.returncode}"
        try:
            if httpx.get(url + "/web/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"no Odoo at {url} within {timeout}s")


def _migrate_nothing(url: str, master_password: str) -> dict[str, object]:
    """``db.migrate_databases`` of no database: True for the master password, else a fault."""
    body = {
        "jsonrpc": "2.0",
        "method": "call",
        "id": 1,
        "params": {"service": "db", "method": "migrate_databases", "args": [master_password, []]},
    }
    answer: dict[str, object] = httpx.post(url + "/jsonrpc", json=body, timeout=30).json()
    return answer


def test_saas_odoo_emulator_becomes_the_emulator_process(
    pg_server: str, closed_port: int, tmp_path: Path
) -> None:
    """The process ``saas odoo-emulator`` starts is the emulator itself (exec, no child in
    between): it reads the master password from the same standard input, serves, logs in
    the format asked for, and a SIGTERM sent to it stops it with exit code 0."""
    port = closed_port
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            SAAS,
            "odoo-emulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
            "--odoo-version",
            "17.0",
            "--postgres-url",
            pg_server,
            "--master-password-stdin",
            "--logfile",
            str(tmp_path / "odoo-server.log"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=_env(SAAS_LOG_FORMAT="json", SAAS_LOG_LEVEL="INFO"),
    )
    try:
        assert process.stdin is not None
        process.stdin.write(b"the-master\n")
        process.stdin.close()
        _wait_until_up(url, process)
        # Odoo's server log (its --logfile), passed through: open from the start.
        assert (tmp_path / "odoo-server.log").is_file()
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[1:4] == [b"-P", b"-m", b"odoo_emulator"], cmdline
        children = [
            pid
            for task in Path(f"/proc/{process.pid}/task").iterdir()
            for pid in (task / "children").read_text().split()
        ]
        assert children == []
        assert _migrate_nothing(url, "the-master").get("result") is True
        assert "error" in _migrate_nothing(url, "admin")
        assert (
            httpx.post(
                url + "/jsonrpc",
                json={
                    "jsonrpc": "2.0",
                    "method": "call",
                    "id": 1,
                    "params": {"service": "common", "method": "version", "args": []},
                },
                timeout=30,
            ).json()["result"]["server_serie"]
            == "17.0"
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.stderr is not None
    lines = process.stderr.read().decode().splitlines()
    assert f"Odoo 17.0 emulator on {url} (data in {tmp_path / 'data'})" in lines
    logged = [json.loads(line) for line in lines if line.startswith("{")]
    assert logged, lines
    assert all({"timestamp", "level", "logger", "message"} <= set(entry) for entry in logged)


@pytest.mark.parametrize(
    ("imported", "forbidden"),
    [
        ("saas_server.cli.main", "odoo_emulator"),
        ("odoo_emulator.__main__, odoo_emulator.app, odoo_emulator.orm.models", "saas_server"),
    ],
)
def test_the_platform_and_the_emulator_load_none_of_each_other(
    imported: str, forbidden: str
) -> None:
    """What import-linter's "emulator" contract checks in the source, checked at run time
    (an import inside a function, or by name, counts too)."""
    code = (
        f"import sys, {imported}\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] == {forbidden!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=60, env=_env(), check=True
    )
    assert result.stdout.decode().strip() == "[]"
