"""The start-up message's wording and addresses (the real process is in tests/e2e)."""

from __future__ import annotations

from saas_server.cli.next_steps import base_url, next_steps


def test_a_wildcard_bind_is_shown_as_a_loopback_address_a_browser_can_open() -> None:
    assert base_url("0.0.0.0", 8000) == "http://127.0.0.1:8000"
    assert base_url("::", 8000) == "http://[::1]:8000"
    assert base_url("::1", 9000) == "http://[::1]:9000"
    assert base_url("10.0.0.5", 80) == "http://10.0.0.5:80"


def test_the_admin_command_is_shown_only_while_there_is_no_admin() -> None:
    without = next_steps(
        url="http://127.0.0.1:8000",
        has_admin=False,
        emulator_urls=["http://127.0.0.1:8069", "http://127.0.0.1:8070"],
        command=".venv/bin/saas",
    )
    text = "\n".join(without)
    assert "http://127.0.0.1:8000/docs" in text and "http://127.0.0.1:8000/redoc" in text
    assert "`.venv/bin/saas create-admin --email EMAIL`" in text
    assert "http://127.0.0.1:8069" in text and "http://127.0.0.1:8070" in text
    with_admin = next_steps(url="http://127.0.0.1:8000", has_admin=True, emulator_urls=[])
    assert not any("create-admin" in line for line in with_admin)
    assert not any("emulator" in line for line in with_admin)
