"""Flow cell and run lifecycles as tables of legal moves."""

from __future__ import annotations

from enum import StrEnum


class FlowCellState(StrEnum):
    IN_STOCK = "in_stock"
    CHECKED = "checked"
    IN_USE = "in_use"
    WASHED = "washed"
    SPENT = "spent"
    RETURNED = "returned"


F = FlowCellState

# A flow cell is checked (pores counted) before it is loaded, and again after a
# wash if the facility wants a fresh count; spent and returned cells are gone.
FLOW_CELL_MOVES: dict[FlowCellState, tuple[FlowCellState, ...]] = {
    F.IN_STOCK: (F.CHECKED, F.SPENT, F.RETURNED),
    F.CHECKED: (F.CHECKED, F.IN_USE, F.SPENT, F.RETURNED),
    F.IN_USE: (F.WASHED, F.SPENT, F.RETURNED),
    F.WASHED: (F.CHECKED, F.IN_USE, F.SPENT, F.RETURNED),
    F.SPENT: (),
    F.RETURNED: (),
}
# Moves a person asks for; in_use is entered only by starting a run on the cell.
MANUAL_FLOW_CELL_TARGETS = (F.WASHED, F.SPENT, F.RETURNED)
LOADABLE = (F.CHECKED, F.WASHED)


class RunState(StrEnum):
    PLANNED = "planned"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    ABORTED = "aborted"


R = RunState

RUN_MOVES: dict[RunState, tuple[RunState, ...]] = {
    # A plan that is dropped is aborted before it started; nothing was loaded.
    R.PLANNED: (R.RUNNING, R.ABORTED),
    R.RUNNING: (R.COMPLETED, R.FAILED, R.ABORTED),
    R.COMPLETED: (),
    R.FAILED: (),
    R.ABORTED: (),
}
ENDED = (R.COMPLETED, R.FAILED, R.ABORTED)
# A run that ends badly says why: the next person deciding on a rerun reads it.
NEEDS_REASON = (R.FAILED, R.ABORTED)
