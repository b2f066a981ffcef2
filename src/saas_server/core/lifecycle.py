"""Lifecycles as tables: every status field changes only through its ``(status, action) ->
next status`` table.

Each domain declares one :class:`Lifecycle` per status field (instances, tenants, hosts,
backups, restores, standby databases) and changes the field only with :meth:`Lifecycle.apply`,
which refuses what the table does not allow (409 ``CONFLICT``, the allowed actions in
``details``). The state diagrams in docs/ are generated from the tables (``saas docs
lifecycles``); a test fails when a diagram is stale.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Generic, Protocol, TypeVar

from saas_server.core.errors import Conflict

S = TypeVar("S", bound=enum.StrEnum)
A = TypeVar("A", bound=enum.StrEnum)


class HasStatus(Protocol):
    status: Any


class Lifecycle(Generic[S, A]):
    def __init__(
        self,
        name: str,
        transitions: Mapping[tuple[S, A], S],
        *,
        initial: Iterable[S],
        final: Iterable[S] = (),
        user_actions: Collection[A] | None = None,
        source: str = "",
        description: str = "",
    ) -> None:
        """``name`` is what the thing is called in messages ("instance", "backup");
        ``initial`` the statuses a new row may start in; ``final`` those it never leaves;
        ``user_actions`` the actions an API caller may ask for (all of them when None),
        which a refusal lists as allowed. ``source`` (the module's path) and
        ``description`` (Markdown) go on its generated page in docs/."""
        self.name = name
        self.source = source
        self.description = description
        self.transitions: dict[tuple[S, A], S] = dict(transitions)
        self.initial = tuple(initial)
        self.final = tuple(final)
        self.user_actions = None if user_actions is None else frozenset(user_actions)

    def allowed_actions(self, status: str) -> list[str]:
        return sorted(
            {action.value for (state, action) in self.transitions if state.value == status}
        )

    def can(self, status: str, action: A) -> bool:
        return any(state.value == status and found == action for (state, found) in self.transitions)

    def next_status(self, status: str, action: A) -> S:
        for (state, found), target in self.transitions.items():
            if state.value == status and found == action:
                return target
        allowed = self.allowed_actions(status)
        if self.user_actions is not None:
            allowed = [a for a in allowed if a in {u.value for u in self.user_actions}]
        raise Conflict(
            f"Cannot {action.value} a{'n' if self.name[:1] in 'aeiou' else ''} "
            f"{self.name} that is {status}",
            details={"status": status, "action": action.value, "allowed_actions": allowed},
        )

    def apply(self, obj: HasStatus, action: A) -> S:
        """Move ``obj.status`` along the table; 409 when the table does not allow it."""
        target = self.next_status(str(obj.status), action)
        obj.status = target.value
        return target

    def mermaid(self) -> str:
        lines = ["stateDiagram-v2"]
        for state in self.initial:
            lines.append(f"    [*] --> {state.value}")
        for (state, action), target in self.transitions.items():
            lines.append(f"    {state.value} --> {target.value}: {action.value}")
        for state in self.final:
            lines.append(f"    {state.value} --> [*]")
        return "\n".join(lines) + "\n"

    @property
    def doc_name(self) -> str:
        """Its page in docs/: ``docs/<name>-lifecycle.md``."""
        return f"{self.name.replace(' ', '-')}-lifecycle.md"

    def page(self) -> str:
        """Its page in docs/, generated whole: a stale page is a failing test."""
        title = self.name[:1].upper() + self.name[1:]
        parts = [f"# {title} lifecycle", ""]
        origin = f"`{self.source}`" if self.source else "its transition table"
        parts.append(
            f"Generated from {origin} by `saas docs lifecycles`;\n"
            "a test fails when this page and the table disagree."
        )
        if self.description:
            parts += ["", self.description.strip()]
        parts += ["", "```mermaid", self.mermaid().rstrip("\n"), "```", ""]
        return "\n".join(parts)

    def __repr__(self) -> str:
        return f"Lifecycle({self.name!r}, {len(self.transitions)} transitions)"
