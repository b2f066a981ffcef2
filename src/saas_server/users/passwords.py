"""Password policy: length, not a common password, not the email address.

The common-password list is the 20,000-entry list Django ships (itself derived from public
breach corpora), kept as data; see docs/decisions/0002-password-policy.md.
"""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from importlib.resources import files

MIN_LENGTH = 10
MAX_LENGTH = 128

_EDGE_NOISE = re.compile(r"^[\d\W_]+|[\d\W_]+$")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    raw = files("saas_server.users").joinpath("common-passwords.txt.gz").read_bytes()
    return frozenset(line.strip() for line in gzip.decompress(raw).decode().splitlines())


def password_problems(password: str, email: str | None = None) -> list[str]:
    """Every reason ``password`` is refused (empty when it is acceptable)."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Password must be at least {MIN_LENGTH} characters long.")
    if len(password) > MAX_LENGTH:
        problems.append(f"Password must be at most {MAX_LENGTH} characters long.")
    lowered = password.lower()
    # "Password2024!" is "password" with decoration: check the word under the digits too.
    core = _EDGE_NOISE.sub("", lowered)
    common = common_passwords()
    if lowered in common or (core and core in common) or len(set(lowered)) <= 2:
        problems.append("Password is too common.")
    if email:
        address = email.lower()
        local = address.split("@", 1)[0]
        if lowered == address or lowered == local or (len(local) >= 4 and core == local):
            problems.append("Password must not be your email address.")
    return problems
