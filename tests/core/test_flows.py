"""core/flows.py: steps in order from the last checkpoint, the fault hook after each step's
work and before its record, the failing step named."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from saas_server.core import faults
from saas_server.core.flows import RECORDED, Flow, Progress, StepError, StepResult
from saas_server.core.settings import Settings
from tests.fixtures.settings import TEST_SECRET_KEY


def settings_with(tmp_path: Path, **fault_points: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        env="test",
        data_dir=tmp_path,
        secret_key=TEST_SECRET_KEY,
        odoo_emulator="off",
        faults=fault_points,
    )


@dataclass
class Context:
    ran: list[str] = field(default_factory=list)
    fail_in: str | None = None


async def first(context: Context) -> StepResult:
    context.ran.append("first")
    return None


async def second(context: Context) -> StepResult:
    context.ran.append("second")
    if context.fail_in == "second":
        raise ValueError("boom")
    return RECORDED  # recorded by the step itself


async def third(context: Context) -> StepResult:
    context.ran.append("third")
    return None


FLOW = Flow("probe", (first, second, third))


class Recorder:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.records: list[Progress] = []

    async def __call__(self, progress: Progress) -> None:
        # What the step did is done before its checkpoint is written.
        assert self.context.ran[-1] == progress.step
        self.records.append(progress)


async def test_steps_run_in_order_and_each_is_recorded_after_it(tmp_path: Path) -> None:
    context = Context()
    recorder = Recorder(context)
    await FLOW.run(context, settings=settings_with(tmp_path), done=None, record=recorder)
    assert context.ran == ["first", "second", "third"]
    # A step that returns RECORDED wrote its own checkpoint: the runner writes none.
    assert recorder.records == [Progress("first", 1, 3), Progress("third", 3, 3)]
    assert recorder.records[-1].percent == 100


async def test_a_rerun_starts_after_the_last_recorded_step(tmp_path: Path) -> None:
    context = Context()
    recorder = Recorder(context)
    await FLOW.run(context, settings=settings_with(tmp_path), done="second", record=recorder)
    assert context.ran == ["third"]
    await FLOW.run(context, settings=settings_with(tmp_path), done="third", record=recorder)
    assert context.ran == ["third"]  # nothing left
    # An unknown step (another flow's) is a flow not started.
    await FLOW.run(context, settings=settings_with(tmp_path), done="elsewhere", record=recorder)
    assert context.ran == ["third", "first", "second", "third"]


async def test_a_failing_step_is_named_and_not_recorded(tmp_path: Path) -> None:
    context = Context(fail_in="second")
    recorder = Recorder(context)
    with pytest.raises(StepError) as caught:
        await FLOW.run(context, settings=settings_with(tmp_path), done=None, record=recorder)
    assert caught.value.flow == "probe" and caught.value.step == "second"
    assert isinstance(caught.value.error, ValueError)
    assert caught.value.__cause__ is caught.value.error
    assert context.ran == ["first", "second"]
    assert [p.step for p in recorder.records] == ["first"]


async def test_the_fault_hook_fires_after_the_step_and_before_its_record(tmp_path: Path) -> None:
    context = Context()
    recorder = Recorder(context)
    settings = settings_with(tmp_path, **{"probe.first": "fail"})
    with pytest.raises(StepError) as caught:
        await FLOW.run(context, settings=settings, done=None, record=recorder)
    assert isinstance(caught.value.error, faults.InjectedFault)
    assert caught.value.step == "first"
    assert context.ran == ["first"]  # the step's work is done ...
    assert recorder.records == []  # ... and not recorded: a rerun repeats it


def test_a_flow_opens_with_its_steps() -> None:
    assert FLOW.step_names == ("first", "second", "third")
    assert (FLOW.first, FLOW.last) == ("first", "third")
    assert FLOW.progress("second") == Progress("second", 2, 3)
    assert FLOW.progress(None) is None
    with pytest.raises(ValueError, match="twice"):
        Flow("bad", (first, first))
