"""The TypeScript SDK (sdk/typescript) against a running platform: ``saas serve`` with its
worker and the built-in Odoo emulator, driven by the SDK's own vitest suite in Node.

The suite registers its users through the SDK; the verification mails reach this process's
SMTP server, so their tokens are written to a file the suite reads (``SDK_TEST_INBOX``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.serve import ServeProcess
from tests.fixtures.smtp import SmtpServer
from tests.sdk.ts.node import SDK_DIR, ensure_node_modules

pytestmark = [pytest.mark.slow, pytest.mark.once]

# The anonymous budget the 429 test spends: small enough to run out in one burst, over a
# window short enough that the SDK's wait for Retry-After is a second.
ANONYMOUS_LIMIT = "10/second"
VITEST_TIMEOUT_SECONDS = 900
# The tests of the suite (test/*.test.ts): all of them must run and pass.
EXPECTED_TESTS = 10


@pytest.fixture
def workdir() -> Iterator[Path]:
    """The clone's directory. Not under pytest's tmp_path: that is private to the user
    running the tests (0700), and as root the embedded PostgreSQL runs as its own user, which
    must reach its data directory inside."""
    path = Path(tempfile.mkdtemp(prefix="sdk-ts-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def serve(workdir: Path, smtp_server: SmtpServer) -> Iterator[ServeProcess]:
    process = ServeProcess(workdir, smtp_server.port)
    process.env["SAAS_RATE_LIMIT_ANONYMOUS"] = ANONYMOUS_LIMIT
    # The journey pages through more tenants than the default of three.
    process.env["SAAS_DEFAULT_TENANT_LIMIT"] = "10"
    yield process
    if process.proc is not None and process.proc.poll() is None:
        process.proc.kill()
        process.proc.wait()


async def copy_inbox(smtp_server: SmtpServer, path: Path, done: asyncio.Event) -> None:
    """Write every received mail's recipients and token to ``path`` as the mails arrive."""
    written = -1
    while not done.is_set():
        mails = list(smtp_server.inbox.mails)
        if len(mails) != written:
            entries = []
            for mail in mails:
                try:
                    token = mail.token()
                except AssertionError:
                    continue  # a mail carrying no token (a notice)
                entries.append({"to": mail.recipients, "subject": mail.subject, "token": token})
            partial = path.with_suffix(".tmp")
            partial.write_text(json.dumps(entries))
            partial.replace(path)  # the reader never sees half a file
            written = len(mails)
        await asyncio.sleep(0.1)


async def test_typescript_sdk_suite(
    serve: ServeProcess, smtp_server: SmtpServer, workdir: Path
) -> None:
    ensure_node_modules()
    smtp_server.inbox.clear()
    serve.start()
    inbox = workdir / "inbox.json"
    inbox.write_text("[]")
    done = asyncio.Event()
    copier = asyncio.create_task(copy_inbox(smtp_server, inbox, done))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAAS_")} | {
        "SDK_TEST_BASE_URL": serve.base_url,
        "SDK_TEST_INBOX": str(inbox),
        "SDK_TEST_ANONYMOUS_LIMIT": ANONYMOUS_LIMIT,
        "CI": "1",  # vitest: no watch mode, plain output
    }
    try:
        vitest = await asyncio.create_subprocess_exec(
            "npx",
            "vitest",
            "run",
            cwd=SDK_DIR,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            output, _ = await asyncio.wait_for(vitest.communicate(), VITEST_TIMEOUT_SECONDS)
        except TimeoutError:
            vitest.kill()
            output = (await vitest.communicate())[0] + b"\n(vitest timed out)"
    finally:
        done.set()
        await copier
    text = output.decode(errors="replace")
    log = (workdir / "serve.log").read_text(errors="replace")
    print(text)  # shown with -s, and kept in the report of a failure
    assert vitest.returncode == 0, f"{text}\n--- saas serve log (tail) ---\n{log[-4000:]}"
    # The suite ran every scenario: none skipped, none failed, none filtered away.
    summary = re.search(r"Tests\s+(.*)", strip_ansi(text))
    assert summary is not None, text
    assert re.fullmatch(rf"{EXPECTED_TESTS} passed \({EXPECTED_TESTS}\).*", summary.group(1)), text


def strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)
