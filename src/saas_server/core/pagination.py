"""The list conventions of conventions.md, as one piece every list endpoint uses.

``?page=1&page_size=20`` (max 100), ``?search=`` (case-insensitive, over the resource's text
fields), ``?ordering=-created_at,name`` (only fields the resource allows; others are 422),
and plain query parameters as filters. The body is ``{count, next, previous, results}`` with
absolute URLs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core.errors import ValidationFailed

T = TypeVar("T")
SelectT = TypeVar("SelectT", bound=Select)

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Far beyond any real list, and small enough that the row offset fits PostgreSQL's bigint.
MAX_PAGE = 2**31 - 1


class Page(BaseModel, Generic[T]):
    count: int
    next: str | None
    previous: str | None
    results: list[T]


@dataclass(frozen=True)
class ListParams:
    page: int
    page_size: int
    search: str | None
    ordering: str | None
    url: Any  # starlette URL of the request, for next/previous links


async def list_params(
    request: Request,
    page: Annotated[
        int, Query(ge=1, le=MAX_PAGE, description=f"Page number, from 1 to {MAX_PAGE}.")
    ] = 1,
    page_size: Annotated[
        int, Query(ge=1, description=f"Items per page (at most {MAX_PAGE_SIZE}).")
    ] = DEFAULT_PAGE_SIZE,
    search: Annotated[
        str | None, Query(max_length=200, description="Case-insensitive text search.")
    ] = None,
    ordering: Annotated[
        str | None,
        Query(max_length=200, description="Fields to sort by, comma-separated; '-' = desc."),
    ] = None,
) -> ListParams:
    return ListParams(
        page=page,
        # Larger page sizes are capped rather than refused, as DRF-style clients expect.
        page_size=min(page_size, MAX_PAGE_SIZE),
        search=search.strip() or None if search else None,
        ordering=ordering,
        url=request.url,
    )


ListParamsDep = Annotated[ListParams, Depends(list_params)]


@dataclass(frozen=True)
class ListSpec:
    """What a resource allows: its sortable fields, default order and searchable columns."""

    # Public field name -> column (an ORM attribute or any column expression).
    ordering_fields: Mapping[str, Any]
    default_ordering: str = "-created_at"
    search_fields: Sequence[Any] = field(default_factory=tuple)
    # Appended to every ordering so pages are stable when sort keys tie.
    tiebreaker: Any = None

    def order_by(self, ordering: str | None) -> list[ColumnElement[Any]]:
        clauses: list[ColumnElement[Any]] = []
        unknown: list[str] = []
        for raw in (ordering or self.default_ordering).split(","):
            name = raw.strip()
            if not name:
                continue
            descending = name.startswith("-")
            # One sign at most: ``--name`` names no field.
            key = name[1:] if name[0] in "-+" else name
            column = self.ordering_fields.get(key)
            if column is None:
                unknown.append(name)
                continue
            clauses.append(column.desc() if descending else column.asc())
        if unknown:
            allowed = ", ".join(sorted(self.ordering_fields))
            raise ValidationFailed(
                "Unknown ordering field",
                details={
                    "ordering": [f"Cannot order by {u!r}; allowed: {allowed}." for u in unknown]
                },
            )
        if self.tiebreaker is not None:
            clauses.append(self.tiebreaker.desc())
        return clauses

    def search_clause(self, term: str) -> ColumnElement[bool]:
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        return or_(*(column.ilike(pattern, escape="\\") for column in self.search_fields))


def apply_filters(stmt: SelectT, filters: Mapping[Any, Any]) -> SelectT:
    """Add ``column = value`` for each filter given (``None`` means the filter is absent)."""
    for column, value in filters.items():
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


def _page_url(params: ListParams, page: int) -> str:
    return str(params.url.include_query_params(page=page, page_size=params.page_size))


async def paginate(
    session: AsyncSession,
    stmt: Select,
    params: ListParams,
    spec: ListSpec,
    to_item: Callable[[Any], T],
    *,
    rows: bool = False,
) -> Page[T]:
    """Run ``stmt`` (already filtered) with search, ordering and the page window applied.

    ``to_item`` receives each entity, or each whole row when ``rows`` is true (joins)."""
    if params.search and spec.search_fields:
        stmt = stmt.where(spec.search_clause(params.search))
    count = (
        await session.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))
    ).scalar_one()
    offset = (params.page - 1) * params.page_size
    result = await session.execute(
        stmt.order_by(*spec.order_by(params.ordering)).offset(offset).limit(params.page_size)
    )
    results = [to_item(row) for row in (result.all() if rows else result.scalars())]
    has_next = offset + len(results) < count
    return Page[T](
        count=count,
        next=_page_url(params, params.page + 1) if has_next else None,
        previous=_page_url(params, params.page - 1) if params.page > 1 else None,
        results=results,
    )
