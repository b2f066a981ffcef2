"""Hooks: how a lower package lets higher ones act, without importing them.

The packages form a ladder (docs/decisions/0007-package-ladder.md): each imports only those
below it. When something in a lower package must make a higher one act in the same
transaction (a tenant created at registration, a database to back up before it is dropped),
the lower package declares a :class:`Hook` next to the code that fires it, and the higher
package's ``hooks.py`` connects a handler. The composition root (``saas_server.wiring``)
connects them all, once per process, before the first request, job or command.

Handlers run in order of connection, awaited one by one, in the caller's session: a handler
that raises makes the caller fail as if its own code had raised, and nothing commits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class HookNotConnected(RuntimeError):
    """A hook that must be answered fired with no handler: the process was not wired."""


class Hook(Generic[P]):
    """A point where handlers from higher packages run; each gets the arguments fired."""

    def __init__(self, name: str, *, required: bool = False) -> None:
        self.name = name
        # Required: firing with no handler is a wiring mistake, never a silent no-op.
        self.required = required
        self._handlers: list[Callable[P, Awaitable[None]]] = []

    def connect(self, handler: Callable[P, Awaitable[None]]) -> Callable[P, Awaitable[None]]:
        """Add ``handler`` (once: connecting it again changes nothing). Usable as a decorator."""
        if handler not in self._handlers:
            self._handlers.append(handler)
        return handler

    def disconnect(self, handler: Callable[P, Awaitable[None]]) -> None:
        if handler in self._handlers:
            self._handlers.remove(handler)

    @property
    def handlers(self) -> tuple[Callable[P, Awaitable[None]], ...]:
        return tuple(self._handlers)

    async def fire(self, *args: P.args, **kwargs: P.kwargs) -> None:
        if self.required and not self._handlers:
            raise HookNotConnected(f"nothing is connected to the hook {self.name!r}")
        for handler in tuple(self._handlers):
            await handler(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Hook({self.name!r}, handlers={len(self._handlers)})"


class Provider(Generic[P, R]):
    """A point where exactly one higher package answers a question a lower one asks (what a
    tenant's detail shows of its database, say). Asking before it is provided is an error."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._answer: Callable[P, Awaitable[R]] | None = None

    def provide(self, answer: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        self._answer = answer
        return answer

    @property
    def provided(self) -> bool:
        return self._answer is not None

    async def ask(self, *args: P.args, **kwargs: P.kwargs) -> R:
        if self._answer is None:
            raise HookNotConnected(f"nothing provides {self.name!r}")
        return await self._answer(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Provider({self.name!r}, provided={self._answer is not None})"
