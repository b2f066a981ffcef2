"""core/hooks.py: how a lower package lets a higher one act without importing it."""

from __future__ import annotations

import pytest

from saas_server.core.hooks import Hook, HookNotConnected, Provider


async def test_handlers_run_in_connection_order_with_the_fired_arguments() -> None:
    hook: Hook[[list[str], str]] = Hook("test.something_happened")
    seen: list[str] = []

    async def first(log: list[str], what: str) -> None:
        log.append(f"first {what}")

    async def second(log: list[str], what: str) -> None:
        log.append(f"second {what}")

    hook.connect(first)
    hook.connect(second)
    hook.connect(first)  # connecting again changes nothing: wiring may run twice
    await hook.fire(seen, "x")
    assert seen == ["first x", "second x"]
    assert hook.handlers == (first, second)
    hook.disconnect(first)
    await hook.fire(seen, "y")
    assert seen == ["first x", "second x", "second y"]


async def test_a_failing_handler_fails_the_caller_and_stops_the_rest() -> None:
    hook: Hook[[list[str]]] = Hook("test.failing")

    async def fails(log: list[str]) -> None:
        log.append("fails")
        raise ValueError("no")

    async def after(log: list[str]) -> None:
        log.append("after")

    hook.connect(fails)
    hook.connect(after)
    seen: list[str] = []
    with pytest.raises(ValueError, match="no"):
        await hook.fire(seen)
    assert seen == ["fails"]


async def test_an_optional_hook_with_no_handler_is_a_no_op_a_required_one_is_an_error() -> None:
    optional: Hook[[int]] = Hook("test.optional")
    await optional.fire(1)
    required: Hook[[int]] = Hook("test.required", required=True)
    with pytest.raises(HookNotConnected, match=r"test\.required"):
        await required.fire(1)


async def test_a_provider_answers_once_provided_and_refuses_before() -> None:
    double: Provider[[int], int] = Provider("test.double")
    assert not double.provided
    with pytest.raises(HookNotConnected, match=r"test\.double"):
        await double.ask(2)

    async def answer(value: int) -> int:
        return value * 2

    double.provide(answer)
    assert double.provided
    assert await double.ask(21) == 42
