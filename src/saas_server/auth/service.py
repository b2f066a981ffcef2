"""Identity rules: registration, verification, login with lockout, token rotation, resets.

Every function works inside the caller's transaction (request, CLI command or job) and never
commits by itself. :class:`AuthService` is the sum of its parts, one module each:
``registration`` (accounts and address verification), ``login`` (passwords and lockout),
``sessions`` (who is calling, refresh, logout), ``password_reset`` (reset and change), on
``tokens`` (the single-use tokens of mailed links).
"""

from __future__ import annotations

from saas_server.auth.login import (
    AUTH_LOGIN_UNLOCKED,
    AccountLocked,
    InvalidCredentials,
    login_source,
)
from saas_server.auth.password_reset import Passwords
from saas_server.auth.registration import Registration
from saas_server.auth.sessions import (
    InvalidRefreshToken,
    IssuedTokens,
    Principal,
    authenticate,
)
from saas_server.auth.tokens import (
    LOGIN_UNLOCK,
    PASSWORD_RESET,
    VERIFY_EMAIL,
    InvalidActionToken,
)

__all__ = [
    "AUTH_LOGIN_UNLOCKED",
    "LOGIN_UNLOCK",
    "PASSWORD_RESET",
    "VERIFY_EMAIL",
    "AccountLocked",
    "AuthService",
    "InvalidActionToken",
    "InvalidCredentials",
    "InvalidRefreshToken",
    "IssuedTokens",
    "Principal",
    "authenticate",
    "login_source",
]


class AuthService(Registration, Passwords):
    """Everything identity, in the caller's transaction."""
