"""FastAPI dependencies shared by every router: the runtime, a transactional session, the client.

Dependencies are ``async def`` even when they do not await: FastAPI runs plain ``def``
dependencies in a thread pool, and those thread hops cost more than the work itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core.client import ClientInfo
from saas_server.core.errors import AppError
from saas_server.core.logging import request_id_var
from saas_server.core.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the endpoint returns, rolled back on error.

    Used only through ``SessionDep``, whose ``scope="function"`` makes FastAPI run this exit
    when the endpoint (and the serialisation of its answer) is done, before the first byte
    of the response: a failed commit is the client's error response, never a success that
    did not persist, and a client acting on a response finds its effects committed. With
    the default scope the exit would run after the response had been sent.
    """
    runtime: Runtime = request.app.state.runtime
    async with runtime.db.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except AppError as exc:
            if exc.keeps_changes:
                await session.commit()
            else:
                await session.rollback()
            raise
        except BaseException:
            await session.rollback()
            raise


async def get_client_info(request: Request) -> ClientInfo:
    user_agent = request.headers.get("user-agent")
    return ClientInfo(
        ip=request.client.host if request.client else None,
        user_agent=user_agent[:400] if user_agent else None,
        request_id=request_id_var.get(),
    )


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ClientDep = Annotated[ClientInfo, Depends(get_client_info)]
