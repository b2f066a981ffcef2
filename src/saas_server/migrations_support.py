"""What Alembic compares: our tables, not procrastinate's (migration 0001 applies its schema)."""

from __future__ import annotations


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    return not (name or "").startswith(("procrastinate_", "idx_procrastinate_"))
