from __future__ import annotations

import pytest

from saas_server.users.passwords import password_problems


@pytest.mark.parametrize(
    "password",
    ["short", "1234567890", "qwertyuiop", "password1234", "Password2024!", "aaaaaaaaaaaa"],
)
def test_refused(password: str) -> None:
    assert password_problems(password, "someone@example.com")


def test_email_as_password_is_refused() -> None:
    assert password_problems("jane.doe@example.com", "jane.doe@example.com")
    assert password_problems("Jane.Doe2024", "jane.doe@example.com")


@pytest.mark.parametrize(
    "password", ["correct-horse-battery", "Tr0ub4dor&3-extended", "ümlaut-passphrase"]
)
def test_accepted(password: str) -> None:
    assert password_problems(password, "someone@example.com") == []
