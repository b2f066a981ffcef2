"""One runner for every long operation: a flow is a named list of steps, run in order.

A step is a plain async function of the flow's context (so "go to definition" follows it),
named by its function name, and idempotent: it first checks whether its effect is already
there. The runner runs the steps after the last recorded one, and after each step, in this
order:

1. the fault checkpoint ``"<flow>.<step>"`` (core/faults.py), the same place in every flow:
   the step's work is done, its record is not. A crash test stopping there proves that a
   rerun finds the effect and does not repeat it;
2. the flow's ``record`` callback with the :class:`Progress` (which step, how far), unless
   the step says it recorded itself (:data:`RECORDED`: done in the transaction that did its
   work, or it changed nothing).

A step that raises stops the flow: the runner raises :class:`StepError` naming the step,
with the step's exception as ``error`` (and ``__cause__``); the flow records the failure.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final, Generic, Literal, TypeVar

from saas_server.core import faults
from saas_server.core.settings import Settings

logger = logging.getLogger(__name__)

C = TypeVar("C")


class _Recorded(enum.Enum):
    RECORDED = "recorded"


# What a step returns when no checkpoint needs writing after it.
RECORDED: Final = _Recorded.RECORDED

StepResult = Literal[_Recorded.RECORDED] | None
Step = Callable[[C], Awaitable[StepResult]]


@dataclass(frozen=True)
class Progress:
    """Where a flow stands: ``step`` is the last completed, ``completed`` of ``total`` done."""

    step: str
    completed: int
    total: int

    @property
    def percent(self) -> int:
        return self.completed * 100 // self.total if self.total else 100


Record = Callable[[Progress], Awaitable[None]]


@dataclass(frozen=True)
class StepEvent:
    """A step starting or finishing, for whoever shows progress live (the event stream).

    ``index`` is the step's 1-based place among ``total``; ``percent`` is the share of the
    flow done: the steps before this one when it starts, this one included when it finishes.
    """

    flow: str
    step: str
    phase: Literal["started", "finished"]
    index: int
    total: int

    @property
    def percent(self) -> int:
        done = self.index if self.phase == "finished" else self.index - 1
        return done * 100 // self.total if self.total else 100


Announce = Callable[[StepEvent], Awaitable[None]]


class StepError(Exception):
    """A step of a flow failed; ``error`` is what it raised."""

    def __init__(self, flow: str, step: str, error: Exception) -> None:
        super().__init__(f"{flow} step {step} failed: {error}")
        self.flow = flow
        self.step = step
        self.error = error


def step_name(step: Step[C]) -> str:
    return step.__name__.lstrip("_")


class Flow(Generic[C]):
    """``name`` prefixes the fault checkpoints (``"provision"`` -> ``"provision.verify"``)."""

    def __init__(self, name: str, steps: Sequence[Step[C]]) -> None:
        self.name = name
        self.steps: tuple[Step[C], ...] = tuple(steps)
        self.step_names: tuple[str, ...] = tuple(step_name(s) for s in self.steps)
        if len(set(self.step_names)) != len(self.step_names):
            raise ValueError(f"flow {name!r} names a step twice: {self.step_names}")

    @property
    def first(self) -> str:
        return self.step_names[0]

    @property
    def last(self) -> str:
        return self.step_names[-1]

    def position(self, done: str | None) -> int:
        """How many steps are complete when ``done`` is the last recorded (an unknown
        name, or None, is a flow not started)."""
        return self.step_names.index(done) + 1 if done in self.step_names else 0

    def progress(self, done: str | None) -> Progress | None:
        count = self.position(done)
        if count == 0:
            return None
        return Progress(step=self.step_names[count - 1], completed=count, total=len(self.steps))

    async def run(
        self,
        context: C,
        *,
        settings: Settings,
        done: str | None,
        record: Record,
        announce: Announce | None = None,
    ) -> None:
        """Run the steps after ``done`` (the last recorded step; None: from the first).

        ``announce``, when given, hears each step start and, once recorded, finish. It only
        shows progress: its failure is logged and the flow goes on."""
        total = len(self.steps)
        for index in range(self.position(done), total):
            step, name = self.steps[index], self.step_names[index]
            if announce is not None:
                await _announce(announce, StepEvent(self.name, name, "started", index + 1, total))
            try:
                result = await step(context)
                await faults.checkpoint(settings, f"{self.name}.{name}")
            except Exception as exc:
                raise StepError(self.name, name, exc) from exc
            if result is not RECORDED:
                await record(Progress(step=name, completed=index + 1, total=total))
            if announce is not None:
                await _announce(announce, StepEvent(self.name, name, "finished", index + 1, total))

    def __repr__(self) -> str:
        return f"Flow({self.name!r}, {' -> '.join(self.step_names)})"


async def _announce(announce: Announce, event: StepEvent) -> None:
    try:
        await announce(event)
    except Exception:
        logger.warning("could not announce %s.%s %s", event.flow, event.step, event.phase)


async def no_record(progress: Progress) -> None:
    """For flows whose steps find their own effects again (nothing to resume from)."""
