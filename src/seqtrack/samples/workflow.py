"""Processing steps follow the lifecycle: entering a state starts its step, leaving it finishes it.

Each step of a facility's template names the state its work happens in. A move
forward finishes the steps of the state it leaves and starts the first step of
the state it enters; a hold pauses, returning resumes; failing, cancelling or
disposing ends the open steps; delivery closes whatever is still open, so a
delivered or archived sample has no pending step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from seqtrack.samples.lifecycle import SampleStatus
from seqtrack.samples.schemas import StepStatus

S = SampleStatus
OPEN_STEP = (StepStatus.PENDING, StepStatus.IN_PROGRESS)
# Where each default step's work happens (rules.DEFAULT_STEPS); a template step may name its own.
DEFAULT_STEP_STATES: dict[str, SampleStatus] = {
    "Sample QC": S.QC,
    "Library Preparation": S.LIBRARY_PREP,
    "Library QC": S.LIBRARY_PREP,
    "Sequencing Setup": S.SEQUENCING,
    "Sequencing Run": S.SEQUENCING,
    "Basecalling": S.ANALYSIS,
    "Quality Assessment": S.ANALYSIS,
    "Data Delivery": S.ANALYSIS,
}
ENDING = {S.FAILED: StepStatus.FAILED, S.CANCELLED: StepStatus.SKIPPED, S.DISPOSED: StepStatus.SKIPPED}
WORK_DONE = (S.DELIVERED, S.ARCHIVED)


@dataclass(frozen=True)
class StepView:
    position: int
    name: str
    status: StepStatus


def step_states(template: Iterable[Mapping[str, Any]]) -> dict[str, SampleStatus]:
    """Step name -> the state its work happens in, from the facility's template (defaults by name)."""
    states = dict(DEFAULT_STEP_STATES)
    for step in template:
        if step.get("state"):
            states[str(step["name"])] = SampleStatus(step["state"])
    return states


def may_change_steps(states: Mapping[str, SampleStatus], source: SampleStatus, target: SampleStatus) -> bool:
    """Whether the move can touch any step at all (a move between stepless states need not read them)."""
    if target in ENDING or target in WORK_DONE:
        return True
    if target is S.ON_HOLD or source is S.ON_HOLD:
        return False
    worked_in = set(states.values())
    return source in worked_in or target in worked_in


def follow(
    steps: Sequence[StepView], states: Mapping[str, SampleStatus], source: SampleStatus, target: SampleStatus
) -> dict[int, StepStatus]:
    """The new status of each step (by position) that the move ``source`` -> ``target`` changes."""
    if target in ENDING:
        open_now = [step for step in steps if step.status in OPEN_STEP]
        return {
            step.position: ENDING[target] if step.status is StepStatus.IN_PROGRESS else StepStatus.SKIPPED
            for step in open_now
        }
    if target is S.ON_HOLD or source is S.ON_HOLD:
        return {}
    changed: dict[int, StepStatus] = {}
    for step in steps:
        if step.status not in OPEN_STEP:
            continue
        if states.get(step.name) is source:
            changed[step.position] = StepStatus.COMPLETED
        elif target in WORK_DONE:
            changed[step.position] = (
                StepStatus.COMPLETED if step.status is StepStatus.IN_PROGRESS else StepStatus.SKIPPED
            )
    entering = [step for step in steps if states.get(step.name) is target and step.position not in changed]
    if entering and not any(step.status is StepStatus.IN_PROGRESS for step in entering):
        first = next((step for step in entering if step.status is StepStatus.PENDING), None)
        if first is not None:
            changed[first.position] = StepStatus.IN_PROGRESS
    return changed
