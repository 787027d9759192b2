"""Sequencing use cases: the only code that changes instruments, flow cells, libraries, pools and runs.

Every change writes the new state and stages one event (with its audit entry
and outbox row) in the caller's unit of work. Samples are the samples domain's:
their states, steps and library fields change only through its service, in the
same transaction, so a run that starts moves its samples or nothing at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeVar

from sqlalchemy import case
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from seqtrack.events.recorder import DomainEvent, stage
from seqtrack.identity.actor import Actor
from seqtrack.identity.permissions import Permission
from seqtrack.platform.errors import NotFound
from seqtrack.platform.etag import check_if_match, settings_to_change
from seqtrack.platform.models import utcnow
from seqtrack.samples import service as samples_service
from seqtrack.samples.errors import SampleNotFound
from seqtrack.samples.lifecycle import SampleStatus
from seqtrack.samples.schemas import SampleUpdate, StepStatus, StepUpdate
from seqtrack.samples.service import PresentedSignature
from seqtrack.sequencing import catalog, models, reports, repository, rules, samplesheet
from seqtrack.sequencing.errors import (
    FlowCellNotFound,
    IllegalFlowCellMove,
    IllegalRunMove,
    InstrumentNotFound,
    InvalidRunReport,
    InvalidSequencingField,
    LibraryNotFound,
    NameTaken,
    PoolNotFound,
    PoolRefused,
    RunNotFound,
    RunRefused,
    SamplePermissionMissing,
    SamplesNotReady,
)
from seqtrack.sequencing.events import Aggregate, SequencingEvent
from seqtrack.sequencing.lifecycle import (
    ENDED,
    FLOW_CELL_MOVES,
    LOADABLE,
    MANUAL_FLOW_CELL_TARGETS,
    NEEDS_REASON,
    RUN_MOVES,
    FlowCellState,
    RunState,
)
from seqtrack.sequencing.models import FlowCell, Instrument, Library, LibrarySample, Pool, Run, SequencingSettings
from seqtrack.sequencing.schemas import (
    FlowCellIn,
    InstrumentIn,
    LibraryIn,
    PoolCheckIn,
    PoolIn,
    RunIn,
    SettingsUpdate,
)

# The sample states a library may be made in: released from QC, or back for another run.
LIBRARY_READY = (SampleStatus.LIBRARY_PREP, SampleStatus.SEQUENCING, SampleStatus.ANALYSIS)
# Processing steps (the facility's default template) that runs drive; a facility
# whose template lacks one simply has no step to update.
STEP_LIBRARY = "Library Preparation"
STEP_SETUP = "Sequencing Setup"
STEP_RUN = "Sequencing Run"
STEP_BASECALLING = "Basecalling"

Versioned = TypeVar("Versioned", Instrument, FlowCell, Library, Pool, Run, SequencingSettings)

# The aggregate each kind of row is to the event store.
_AGGREGATES: dict[type[Any], Aggregate] = {
    Instrument: Aggregate.INSTRUMENT,
    FlowCell: Aggregate.FLOW_CELL,
    Library: Aggregate.LIBRARY,
    Pool: Aggregate.POOL,
    Run: Aggregate.RUN,
    SequencingSettings: Aggregate.SETTINGS,
}


# ---------------------------------------------------------------- the one write


def _emit(
    session: AsyncSession,
    actor: Actor,
    row: Versioned,
    event_type: SequencingEvent,
    *,
    changes: Mapping[str, tuple[Any, Any]] | None = None,
    data: Mapping[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    """Bump the row's version and stage its event; both are sent at the next flush."""
    now = utcnow()
    row.version += 1
    row.updated_at = now
    aggregate_id = row.tenant_id if isinstance(row, SequencingSettings) else row.id
    stage(
        session,
        DomainEvent(
            type=event_type,
            aggregate_type=_AGGREGATES[type(row)],
            aggregate_id=aggregate_id,
            data=dict(data or {}),
            changes=dict(changes or {}),
            reason=reason,
        ),
        actor,
        version=row.version,
        occurred_at=now,
    )


def _from_nothing(row: Versioned, *names: str) -> dict[str, tuple[Any, Any]]:
    """A new row's fields as the changes of its creation event."""
    return {name: (None, getattr(row, name)) for name in names}


async def _flush_named(session: AsyncSession, what: str, name: str, field: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        # The unique index decides a name taken meanwhile, not a SELECT before.
        raise NameTaken(f"There is already a {what} named {name!r}.", field=field) from exc


# What a lookup raises when the facility has no such row.
_NOT_FOUND: dict[Aggregate, type[NotFound]] = {
    Aggregate.INSTRUMENT: InstrumentNotFound,
    Aggregate.FLOW_CELL: FlowCellNotFound,
    Aggregate.LIBRARY: LibraryNotFound,
    Aggregate.POOL: PoolNotFound,
    Aggregate.RUN: RunNotFound,
}


async def _one(
    session: AsyncSession, actor: Actor, model: type[repository.Listed], row_id: uuid.UUID
) -> repository.Listed:
    """The facility's row of ``model``, or the not-found error naming it (another facility's row is not found)."""
    row = await repository.one(session, model, actor.tenant_id, row_id)
    if row is None:
        aggregate = _AGGREGATES[model]
        what = aggregate.value.replace("_", " ")
        raise _NOT_FOUND[aggregate](f"No {what} {row_id} here.", **{f"{aggregate.value}_id": str(row_id)})
    return row


# ---------------------------------------------------------------- settings


async def read_settings(session: AsyncSession, tenant_id: uuid.UUID) -> SequencingSettings:
    return await repository.settings(session, tenant_id) or default_settings(tenant_id)


def default_settings(tenant_id: uuid.UUID) -> SequencingSettings:
    """Each flow cell type's warranty pore count as the catalogue gives it."""
    return SequencingSettings.defaults(
        tenant_id, warranty_pores={code: cell.warranty_pores for code, cell in catalog.FLOW_CELL_TYPES.items()}
    )


async def update_settings(
    session: AsyncSession, actor: Actor, body: SettingsUpdate, if_match: str | None
) -> SequencingSettings:
    current = settings_to_change(session, await read_settings(session, actor.tenant_id), if_match)
    wanted = {**current.warranty_pores, **body.warranty_pores}
    if wanted == current.warranty_pores:
        return current
    changes = {
        f"warranty_pores.{code}": (current.warranty_pores.get(code), pores)
        for code, pores in body.warranty_pores.items()
        if current.warranty_pores.get(code) != pores
    }
    current.warranty_pores = wanted
    _emit(session, actor, current, SequencingEvent.SETTINGS_UPDATED, changes=changes)
    await session.flush()
    return current


# ---------------------------------------------------------------- instruments


async def register_instrument(session: AsyncSession, actor: Actor, body: InstrumentIn) -> Instrument:
    instrument = Instrument.new(actor.tenant_id, version=0, **body.model_dump())
    session.add(instrument)
    await _flush_named(session, "instrument", body.name, "name")
    _emit(
        session,
        actor,
        instrument,
        SequencingEvent.INSTRUMENT_REGISTERED,
        changes=_from_nothing(instrument, "name", "model", "serial"),
    )
    await session.flush()
    return instrument


async def get_instrument(session: AsyncSession, actor: Actor, instrument_id: uuid.UUID) -> Instrument:
    return await _one(session, actor, Instrument, instrument_id)


async def busy_positions(session: AsyncSession, instruments: Sequence[Instrument]) -> dict[tuple[uuid.UUID, str], Run]:
    return {
        (run.instrument_id, run.position): run
        for run in await repository.running_on(session, [i.id for i in instruments])
    }


# ---------------------------------------------------------------- flow cells


@dataclass(frozen=True)
class FlowCellView:
    """A flow cell with what the facility's settings say about it."""

    flow_cell: FlowCell
    warranty_pores: int | None
    below_warranty: bool
    expired: bool


def view_flow_cell(flow_cell: FlowCell, settings: SequencingSettings, today: date | None = None) -> FlowCellView:
    threshold = rules.warranty_threshold(flow_cell.product_code, settings.warranty_pores)
    today = today or utcnow().date()
    return FlowCellView(
        flow_cell,
        threshold,
        rules.below_warranty(flow_cell.pore_count, threshold),
        flow_cell.expiry_date is not None and flow_cell.expiry_date < today,
    )


async def receive_flow_cell(session: AsyncSession, actor: Actor, body: FlowCellIn) -> FlowCell:
    # Unchecked (no pore count yet) and never loaded.
    flow_cell = FlowCell.new(
        actor.tenant_id, version=0, state=FlowCellState.IN_STOCK.value, runs_started=0, **body.model_dump()
    )
    session.add(flow_cell)
    await _flush_named(session, "flow cell", body.serial, "serial")
    _emit(
        session,
        actor,
        flow_cell,
        SequencingEvent.FLOW_CELL_RECEIVED,
        changes=_from_nothing(flow_cell, "serial", "product_code", "lot", "expiry_date", "state"),
    )
    await session.flush()
    return flow_cell


async def get_flow_cell(session: AsyncSession, actor: Actor, flow_cell_id: uuid.UUID) -> FlowCell:
    return await _one(session, actor, FlowCell, flow_cell_id)


def _refuse_flow_cell_move(flow_cell: FlowCell, target: FlowCellState) -> None:
    allowed = FLOW_CELL_MOVES[FlowCellState(flow_cell.state)]
    if target not in allowed:
        raise IllegalFlowCellMove(
            f"Flow cell {flow_cell.serial} is {flow_cell.state}; it cannot go to {target.value}.",
            current_state=flow_cell.state,
            to=target.value,
            allowed=[state.value for state in allowed],
        )


async def check_flow_cell(
    session: AsyncSession, actor: Actor, flow_cell_id: uuid.UUID, pore_count: int, if_match: str | None
) -> FlowCellView:
    """Record the pore count of a platform check; below the type's warranty count it is flagged."""
    flow_cell = await get_flow_cell(session, actor, flow_cell_id)
    check_if_match(if_match, flow_cell.id, flow_cell.version, required=False)
    _refuse_flow_cell_move(flow_cell, FlowCellState.CHECKED)
    settings = await read_settings(session, actor.tenant_id)
    now = utcnow()
    changes: dict[str, tuple[Any, Any]] = {
        "pore_count": (flow_cell.pore_count, pore_count),
        "checked_at": (flow_cell.checked_at, now),
    }
    if flow_cell.state != FlowCellState.CHECKED.value:
        changes["state"] = (flow_cell.state, FlowCellState.CHECKED.value)
    flow_cell.pore_count, flow_cell.checked_at, flow_cell.state = pore_count, now, FlowCellState.CHECKED.value
    view = view_flow_cell(flow_cell, settings)
    data = {
        "serial": flow_cell.serial,
        "product_code": flow_cell.product_code,
        "pore_count": pore_count,
        "warranty_pores": view.warranty_pores,
        "below_warranty": view.below_warranty,
    }
    _emit(session, actor, flow_cell, SequencingEvent.FLOW_CELL_CHECKED, changes=changes, data=data)
    await session.flush()
    return view


async def move_flow_cell(
    session: AsyncSession,
    actor: Actor,
    flow_cell_id: uuid.UUID,
    target: FlowCellState,
    reason: str | None,
    if_match: str | None,
) -> FlowCell:
    """Wash, spend or return a flow cell; loading happens only by starting a run."""
    flow_cell = await get_flow_cell(session, actor, flow_cell_id)
    check_if_match(if_match, flow_cell.id, flow_cell.version, required=False)
    if target not in MANUAL_FLOW_CELL_TARGETS:
        raise IllegalFlowCellMove(
            f"A flow cell goes to {target.value} by "
            + ("a platform check (POST …/check)." if target is FlowCellState.CHECKED else "starting a run on it."),
            to=target.value,
        )
    _refuse_flow_cell_move(flow_cell, target)
    running = await repository.page(
        session,
        Run,
        actor.tenant_id,
        None,
        1,
        where=[Run.flow_cell_id == flow_cell.id, Run.state == RunState.RUNNING.value],
    )
    if running[0]:
        raise IllegalFlowCellMove(
            f"Flow cell {flow_cell.serial} is in run {running[0][0].experiment_id}, still running; end the run first.",
            run_id=str(running[0][0].id),
        )
    await _set_flow_cell_state(session, actor, flow_cell, target, reason)
    await session.flush()
    return flow_cell


async def _set_flow_cell_state(
    session: AsyncSession, actor: Actor, flow_cell: FlowCell, target: FlowCellState, reason: str | None, **data: Any
) -> None:
    source = flow_cell.state
    flow_cell.state = target.value
    _emit(
        session,
        actor,
        flow_cell,
        SequencingEvent.FLOW_CELL_STATE_CHANGED,
        changes={"state": (source, target.value)},
        data={"serial": flow_cell.serial, "from": source, "to": target.value, **data},
        reason=reason,
    )


# ---------------------------------------------------------------- libraries


async def get_library(session: AsyncSession, actor: Actor, library_id: uuid.UUID) -> Library:
    return await _one(session, actor, Library, library_id)


async def create_library(session: AsyncSession, actor: Actor, body: LibraryIn, *, field: str = "") -> Library:
    """A library of one or more samples with a kit (and a barcode from its set).

    The samples' library kit and barcode, and their library step, are set through
    the samples service: the "no sequencing without a library" guard reads them.
    """
    prefix = f"{field}." if field else ""
    problem = rules.barcode_problem(body.kit, body.barcode)
    if problem is not None:
        raise InvalidSequencingField(
            f"{body.name}: {problem}.", errors=[{"field": f"{prefix}barcode", "message": problem}]
        )
    if not actor.can(Permission.SAMPLES_WRITE):
        raise SamplePermissionMissing("Making a library records its kit on the samples: this needs 'samples:write'.")
    wanted = list(dict.fromkeys(body.sample_ids))
    found: list[tuple[uuid.UUID, str, str]] = []
    errors: list[dict[str, Any]] = []
    for index, sample_id in enumerate(wanted):
        try:
            row = await samples_service.read_sample(session, actor, sample_id)
        except SampleNotFound:
            errors.append({"field": f"{prefix}sample_ids.{index}", "message": f"no sample {sample_id} here"})
            continue
        found.append((row.id, row.human_id, row.status))
    if errors:
        raise InvalidSequencingField(f"{body.name} names samples that are not here.", errors=errors)
    not_ready = [
        {"sample_id": str(sample_id), "human_id": human_id, "status": status}
        for sample_id, human_id, status in found
        if status not in LIBRARY_READY
    ]
    if not_ready:
        raise SamplesNotReady(
            "A library is made from samples released from QC (library_prep or later); "
            + ", ".join(f"{item['human_id']} is {item['status']}" for item in not_ready)
            + ".",
            samples=not_ready,
        )
    library = Library.new(actor.tenant_id, version=0, **body.model_dump(exclude={"sample_ids"}))
    session.add(library)
    await _flush_named(session, "library", body.name, f"{prefix}name")
    session.add_all(
        LibrarySample(library_id=library.id, sample_id=sample_id, tenant_id=actor.tenant_id, sample_human_id=human_id)
        for sample_id, human_id, _status in found
    )
    kit = catalog.KITS[body.kit]
    for sample_id, _human_id, _status in found:
        await samples_service.update_sample(
            session,
            actor,
            sample_id,
            SampleUpdate(
                library_kit=kit.code,
                barcoding_kit=kit.code if kit.barcode_prefix else None,
                library_barcode=body.barcode,
            ),
            # Written in this unit of work, whatever version the sample is at.
            if_match="*",
        )
        await _set_step(session, actor, sample_id, STEP_LIBRARY, StepStatus.COMPLETED)
    _emit(
        session,
        actor,
        library,
        SequencingEvent.LIBRARY_CREATED,
        changes=_from_nothing(library, "name", "kit", "barcode"),
        data={"samples": [human_id for _id, human_id, _status in found]},
    )
    await session.flush()
    return library


async def _set_step(
    session: AsyncSession, actor: Actor, sample_id: uuid.UUID, step_name: str, status: StepStatus
) -> None:
    steps = await samples_service.sample_steps(session, actor, sample_id)
    step = next((step for step in steps if step.name == step_name), None)
    if step is None or step.status == status.value:
        return
    await samples_service.update_step(session, actor, sample_id, step.position, StepUpdate(status=status))


# ---------------------------------------------------------------- pools


async def get_pool(session: AsyncSession, actor: Actor, pool_id: uuid.UUID) -> Pool:
    return await _one(session, actor, Pool, pool_id)


def _pooled(library: Library | LibraryIn, library_id: uuid.UUID | None = None) -> rules.PooledLibrary:
    row_id = library.id if isinstance(library, Library) else library_id
    return rules.PooledLibrary(str(row_id) if row_id else None, library.name, library.kit, library.barcode)


async def _existing_libraries(session: AsyncSession, actor: Actor, library_ids: Sequence[uuid.UUID]) -> list[Library]:
    wanted = list(dict.fromkeys(library_ids))
    found = {library.id: library for library in await repository.libraries(session, actor.tenant_id, wanted)}
    missing = [
        {"field": f"library_ids.{index}", "message": f"no library {library_id} here"}
        for index, library_id in enumerate(wanted)
        if library_id not in found
    ]
    if missing:
        raise InvalidSequencingField("The pool names libraries that are not here.", errors=missing)
    return [found[library_id] for library_id in wanted]


async def check_pool(session: AsyncSession, actor: Actor, body: PoolCheckIn) -> rules.PoolCheck:
    """What would stop these libraries sharing a flow cell, without saving anything."""
    libraries = [_pooled(library) for library in await _existing_libraries(session, actor, body.library_ids)]
    libraries += [_pooled(library) for library in body.libraries]
    earlier: list[rules.PooledLibrary] = []
    if body.flow_cell_id is not None:
        flow_cell = await get_flow_cell(session, actor, body.flow_cell_id)
        earlier = [
            _pooled(library) for library in await repository.libraries_run_on_flow_cell(session, flow_cell.id, None)
        ]
    return rules.check_pool(libraries, earlier)


def _refuse_pool(check: rules.PoolCheck, what: str) -> None:
    if check.ok:
        return
    kinds = sorted({problem["kind"] for problem in check.problems})
    raise PoolRefused(
        f"{what}: " + "; ".join(problem["message"] for problem in check.problems) + ".",
        kinds=kinds,
        problems=check.problems,
    )


async def create_pool(session: AsyncSession, actor: Actor, body: PoolIn) -> Pool:
    """A pool of existing libraries and libraries made with it, refused whole if any two clash."""
    existing = await _existing_libraries(session, actor, body.library_ids)
    # Checked before anything is written: a refused pool leaves no libraries behind.
    _refuse_pool(
        rules.check_pool([_pooled(library) for library in existing] + [_pooled(library) for library in body.libraries]),
        f"Pool {body.name} refused",
    )
    made = [
        await create_library(session, actor, library, field=f"libraries.{index}")
        for index, library in enumerate(body.libraries)
    ]
    pool = Pool.new(actor.tenant_id, version=0, name=body.name)
    session.add(pool)
    await _flush_named(session, "pool", body.name, "name")
    members = [*existing, *made]
    session.add_all(models.PoolLibrary(pool_id=pool.id, library_id=library.id) for library in members)
    _emit(
        session,
        actor,
        pool,
        SequencingEvent.POOL_CREATED,
        changes={"name": (None, pool.name), "libraries": (None, [library.name for library in members])},
        data={"barcodes": {library.name: library.barcode for library in members}},
    )
    await session.flush()
    return pool


# ---------------------------------------------------------------- runs


async def get_run(session: AsyncSession, actor: Actor, run_id: uuid.UUID) -> Run:
    return await _one(session, actor, Run, run_id)


async def _fit_checks(
    session: AsyncSession,
    instrument: Instrument,
    position: str,
    flow_cell: FlowCell,
    libraries: Sequence[Library],
    run_id: uuid.UUID | None,
) -> None:
    model = catalog.INSTRUMENT_MODELS[instrument.model]
    if position not in model.positions:
        raise InvalidSequencingField(
            f"{instrument.name} ({model.name}) has no position {position!r}.",
            errors=[{"field": "position", "message": f"one of {', '.join(model.positions)}"}],
        )
    problems: list[str] = []
    if flow_cell.product_code not in model.flow_cell_types:
        problems.append(f"{model.name} does not take {flow_cell.product_code} flow cells")
    if flow_cell.state not in {state.value for state in LOADABLE}:
        problems.append(
            f"flow cell {flow_cell.serial} is {flow_cell.state}; only a checked or washed flow cell is loaded"
        )
    for kit in sorted({library.kit for library in libraries}):
        misfit = rules.kit_fits_flow_cell(kit, flow_cell.product_code)
        if misfit is not None:
            problems.append(misfit)
    if not libraries:
        problems.append("the pool has no libraries")
    if problems:
        raise RunRefused("The run cannot be planned: " + "; ".join(problems) + ".", problems=problems)
    earlier = await repository.libraries_run_on_flow_cell(session, flow_cell.id, run_id)
    _refuse_pool(
        rules.check_pool([_pooled(library) for library in libraries], [_pooled(library) for library in earlier]),
        f"Pool on flow cell {flow_cell.serial} refused",
    )


async def plan_run(session: AsyncSession, actor: Actor, body: RunIn) -> Run:
    instrument = await _referenced(get_instrument(session, actor, body.instrument_id), "instrument_id")
    flow_cell = await _referenced(get_flow_cell(session, actor, body.flow_cell_id), "flow_cell_id")
    pool = await _referenced(get_pool(session, actor, body.pool_id), "pool_id")
    libraries = (await repository.pool_libraries(session, [pool.id]))[pool.id]
    await _fit_checks(session, instrument, body.position, flow_cell, libraries, None)
    # The body names the instrument, flow cell and pool just found by those ids.
    run = Run.new(actor.tenant_id, version=0, state=RunState.PLANNED.value, metrics=None, **body.model_dump())
    session.add(run)
    await _flush_named(session, "run with experiment id", body.experiment_id, "experiment_id")
    _emit(
        session,
        actor,
        run,
        SequencingEvent.RUN_PLANNED,
        changes={
            name: (None, value)
            for name, value in {
                "experiment_id": run.experiment_id,
                "instrument": instrument.name,
                "position": run.position,
                "flow_cell": flow_cell.serial,
                "pool": pool.name,
                "basecalling_model": run.basecalling_model,
                "run_length_hours": run.run_length_hours,
                "min_read_length": run.min_read_length,
                "state": run.state,
            }.items()
        },
    )
    await session.flush()
    return run


async def _referenced(lookup: Any, field: str) -> Any:
    """A referenced row, or a 422 naming the body field that pointed at nothing."""
    try:
        return await lookup
    except (InstrumentNotFound, FlowCellNotFound, PoolNotFound) as exc:
        raise InvalidSequencingField(exc.detail, errors=[{"field": field, "message": "not found here"}]) from exc


async def run_samples(session: AsyncSession, run: Run) -> list[LibrarySample]:
    libraries = (await repository.pool_libraries(session, [run.pool_id]))[run.pool_id]
    by_library = await repository.library_samples(session, [library.id for library in libraries])
    unique: dict[uuid.UUID, LibrarySample] = {}
    for library in libraries:
        for member in by_library[library.id]:
            unique.setdefault(member.sample_id, member)
    return list(unique.values())


async def move_run(
    session: AsyncSession,
    actor: Actor,
    run_id: uuid.UUID,
    target: RunState,
    *,
    reason: str | None,
    signature: PresentedSignature | None,
    if_match: str | None = None,
) -> Run:
    run = await get_run(session, actor, run_id)
    check_if_match(if_match, run.id, run.version, required=False)
    source = RunState(run.state)
    if target not in RUN_MOVES[source]:
        raise IllegalRunMove(
            f"Run {run.experiment_id} is {source.value}; it cannot go to {target.value}.",
            current_state=source.value,
            to=target.value,
            allowed=[state.value for state in RUN_MOVES[source]],
        )
    if target in NEEDS_REASON and not (reason and reason.strip()):
        raise InvalidSequencingField(
            f"A run that is {target.value} needs a reason.",
            errors=[{"field": "reason", "message": f"required for {target.value}"}],
        )
    flow_cell = await get_flow_cell(session, actor, run.flow_cell_id)
    members = await run_samples(session, run)
    now = utcnow()
    changes: dict[str, tuple[Any, Any]] = {"state": (source.value, target.value)}
    if target is RunState.RUNNING:
        await _start(session, actor, run, flow_cell, members, signature)
        changes["started_at"] = (None, now)
        run.started_at = now
    elif source is RunState.RUNNING:
        changes["ended_at"] = (None, now)
        run.ended_at = now
        outcome = StepStatus.COMPLETED if target is RunState.COMPLETED else StepStatus.FAILED
        _require_sample_permission(actor, members, Permission.SAMPLES_WRITE)
        for member in members:
            await _set_step(session, actor, member.sample_id, STEP_RUN, outcome)
    if reason != run.state_reason:
        changes["state_reason"] = (run.state_reason, reason)
    run.state, run.state_reason = target.value, reason
    # What a consumer needs to act on the move without reading our tables.
    data = {
        "experiment_id": run.experiment_id,
        "from": source.value,
        "to": target.value,
        "flow_cell": flow_cell.serial,
        "position": run.position,
        "samples": sorted(member.sample_human_id for member in members),
    }
    _emit(session, actor, run, SequencingEvent.RUN_STATE_CHANGED, changes=changes, data=data, reason=reason)
    await session.flush()
    return run


def _require_sample_permission(actor: Actor, members: Sequence[LibrarySample], permission: Permission) -> None:
    # A run moves its samples; a caller allowed to run the sequencer but not to
    # move samples (a narrowly scoped API key) must not move them through here.
    if members and not actor.can(permission):
        raise SamplePermissionMissing(
            f"This run change moves its samples: it needs the '{permission.value}' permission too.",
            permission=permission.value,
        )


async def _start(
    session: AsyncSession,
    actor: Actor,
    run: Run,
    flow_cell: FlowCell,
    members: Sequence[LibrarySample],
    signature: PresentedSignature | None,
) -> None:
    instrument = await get_instrument(session, actor, run.instrument_id)
    libraries = (await repository.pool_libraries(session, [run.pool_id]))[run.pool_id]
    await _fit_checks(session, instrument, run.position, flow_cell, libraries, run.id)
    busy = await repository.run_on_position(session, instrument.id, run.position, run.id)
    if busy is not None:
        raise RunRefused(
            f"{instrument.name} position {run.position} is running {busy.experiment_id}.",
            problems=[f"position {run.position} is busy with run {busy.experiment_id}"],
        )
    _require_sample_permission(actor, members, Permission.SAMPLES_TRANSITION)
    _require_sample_permission(actor, members, Permission.SAMPLES_WRITE)
    to_move: list[uuid.UUID] = []
    not_ready: list[dict[str, str]] = []
    for member in members:
        row = await samples_service.read_sample(session, actor, member.sample_id)
        if row.status == SampleStatus.LIBRARY_PREP.value:
            to_move.append(row.id)
        elif row.status not in (SampleStatus.SEQUENCING.value, SampleStatus.ANALYSIS.value):
            not_ready.append({"sample_id": str(row.id), "human_id": row.human_id, "status": row.status})
    if not_ready:
        raise SamplesNotReady(
            f"Run {run.experiment_id} cannot start: "
            + ", ".join(f"{item['human_id']} is {item['status']}" for item in not_ready)
            + ".",
            samples=not_ready,
        )
    if to_move:
        # All or none, under the facility's signature rule for the sequencing release.
        await samples_service.bulk_transition(
            session,
            actor,
            to_move,
            SampleStatus.SEQUENCING,
            reason=f"loaded on flow cell {flow_cell.serial} in run {run.experiment_id}",
            signature=signature,
        )
    for member in members:
        await _set_step(session, actor, member.sample_id, STEP_SETUP, StepStatus.COMPLETED)
        await _set_step(session, actor, member.sample_id, STEP_RUN, StepStatus.IN_PROGRESS)
    flow_cell.runs_started += 1
    await _set_flow_cell_state(
        session, actor, flow_cell, FlowCellState.IN_USE, f"run {run.experiment_id} started", run=run.experiment_id
    )


# ---------------------------------------------------------------- sample sheet


async def sample_sheet(session: AsyncSession, actor: Actor, run_id: uuid.UUID) -> tuple[Run, str]:
    """The MinKNOW sample sheet of a run: one row per barcode, aliased by its sample (or library)."""
    run = await get_run(session, actor, run_id)
    flow_cell = await get_flow_cell(session, actor, run.flow_cell_id)
    pool = await get_pool(session, actor, run.pool_id)
    libraries = (await repository.pool_libraries(session, [pool.id]))[pool.id]
    members = await repository.library_samples(session, [library.id for library in libraries])
    kits = " ".join(sorted({catalog.KITS[library.kit].minknow_name for library in libraries}))
    rows = [
        samplesheet.SheetRow(
            flow_cell_id=flow_cell.serial,
            kit=kits,
            experiment_id=run.experiment_id,
            sample_id=pool.name,
            alias=alias_of(library, members[library.id]),
            barcode=catalog.minknow_barcode(library.barcode) if library.barcode else "",
        )
        for library in libraries
    ]
    problems = samplesheet.check(rows)
    if problems:
        raise RunRefused(f"Run {run.experiment_id}'s sample sheet would be refused by MinKNOW.", problems=problems)
    return run, samplesheet.render(rows)


def alias_of(library: Library, members: Sequence[LibrarySample]) -> str:
    """A one-sample library is named by its sample's ID, so MinKNOW's output folders carry it."""
    return members[0].sample_human_id if len(members) == 1 else library.name


# ---------------------------------------------------------------- run results


@dataclass(frozen=True)
class ImportedResults:
    run: Run
    unknown_barcodes: list[str]
    samples_moved: list[str]


async def import_results(
    session: AsyncSession,
    actor: Actor,
    run_id: uuid.UUID,
    final_summary: bytes,
    sequencing_summary: bytes | None,
) -> ImportedResults:
    """Per-run and per-barcode figures from MinKNOW's files; the run's samples move on to analysis."""
    run = await get_run(session, actor, run_id)
    if RunState(run.state) not in ENDED or run.started_at is None:
        raise IllegalRunMove(
            f"Run {run.experiment_id} is {run.state}; results are imported once it has run and ended.",
            current_state=run.state,
        )
    flow_cell = await get_flow_cell(session, actor, run.flow_cell_id)
    summary = reports.parse_final_summary(reports.text_lines(final_summary, "final_summary").getvalue())
    if summary.flow_cell_id != flow_cell.serial:
        raise InvalidRunReport(
            f"The final summary is of flow cell {summary.flow_cell_id}, not {flow_cell.serial}.",
            errors=[{"field": "final_summary.flow_cell_id", "message": f"expected {flow_cell.serial}"}],
        )
    tallies = (
        reports.tally_sequencing_summary(reports.text_lines(sequencing_summary, "sequencing_summary"))
        if sequencing_summary is not None
        else {}
    )
    libraries = (await repository.pool_libraries(session, [run.pool_id]))[run.pool_id]
    by_barcode = {catalog.minknow_barcode(library.barcode): library for library in libraries if library.barcode}
    lone_unbarcoded = libraries[0] if len(libraries) == 1 and libraries[0].barcode is None else None
    await repository.delete_barcode_results(session, run.id)
    total = reports.Tally()
    unknown: list[str] = []
    for barcode, tally in sorted(tallies.items()):
        total.merge(tally)
        library = by_barcode.get(barcode)
        if library is None and lone_unbarcoded is not None and barcode == reports.UNCLASSIFIED:
            library = lone_unbarcoded
        if library is None:
            # Reads under a barcode nobody pooled (or none found) are kept and reported:
            # they may be a mislabelled library or carry-over from a washed flow cell.
            unknown.append(barcode)
        session.add(
            models.BarcodeResult(
                tenant_id=actor.tenant_id,
                run_id=run.id,
                barcode=barcode,
                library_id=library.id if library else None,
                **tally.figures(),
            )
        )
    now = utcnow()
    figures = total.figures() if tallies else None
    changes: dict[str, tuple[Any, Any]] = {
        "metrics": (run.metrics, figures),
        "results_imported_at": (run.results_imported_at, now),
    }
    run.metrics, run.results_imported_at = figures, now
    members = await run_samples(session, run)
    moved = await _release_to_analysis(session, actor, run, members)
    _emit(
        session,
        actor,
        run,
        SequencingEvent.RUN_RESULTS_IMPORTED,
        changes=changes,
        data={
            "experiment_id": run.experiment_id,
            "flow_cell": flow_cell.serial,
            "protocol_group_id": summary.protocol_group_id,
            "barcodes": {barcode: tally.bases for barcode, tally in sorted(tallies.items())},
            "unknown_barcodes": unknown,
            "samples_moved_to_analysis": moved,
        },
    )
    await session.flush()
    return ImportedResults(run, unknown, moved)


async def _release_to_analysis(
    session: AsyncSession, actor: Actor, run: Run, members: Sequence[LibrarySample]
) -> list[str]:
    _require_sample_permission(actor, members, Permission.SAMPLES_TRANSITION)
    _require_sample_permission(actor, members, Permission.SAMPLES_WRITE)
    waiting: list[tuple[uuid.UUID, str]] = []
    for member in members:
        row = await samples_service.read_sample(session, actor, member.sample_id)
        if row.status == SampleStatus.SEQUENCING.value:
            waiting.append((row.id, row.human_id))
    if waiting:
        await samples_service.bulk_transition(
            session,
            actor,
            [sample_id for sample_id, _human_id in waiting],
            SampleStatus.ANALYSIS,
            reason=f"results of run {run.experiment_id} imported",
            signature=None,
        )
    for member in members:
        await _set_step(session, actor, member.sample_id, STEP_BASECALLING, StepStatus.COMPLETED)
    return sorted(human_id for _id, human_id in waiting)


# ---------------------------------------------------------------- lineage


@dataclass(frozen=True)
class Lineage:
    sample_id: uuid.UUID
    human_id: str
    status: str
    rows: list[repository.LineageRow]
    members: dict[uuid.UUID, list[LibrarySample]]


async def lineage(session: AsyncSession, actor: Actor, sample_id: uuid.UUID) -> Lineage:
    """Every library, pool, run, flow cell and barcode result a sample went through."""
    sample = await samples_service.read_sample(session, actor, sample_id)
    rows = await repository.lineage(session, actor.tenant_id, sample.id)
    members = await repository.library_samples(session, list(dict.fromkeys(row.library_id for row in rows)))
    return Lineage(sample.id, sample.human_id, sample.status, rows, dict(members))


# ---------------------------------------------------------------- dashboard


@dataclass(frozen=True)
class SequencingFigures:
    runs_by_state: dict[str, int]
    flow_cells_by_state: dict[str, int]
    below_warranty: int
    days: int
    runs_imported: int
    bases: int
    pass_bases: int


def below_warranty_condition(settings: SequencingSettings) -> ColumnElement[bool]:
    """Flow cells whose last check counted fewer pores than their type's warranty count, in SQL."""
    threshold = case(
        {code: rules.warranty_threshold(code, settings.warranty_pores) for code in catalog.FLOW_CELL_TYPES},
        value=FlowCell.product_code,
    )
    return FlowCell.pore_count.is_not(None) & (FlowCell.pore_count < threshold)


async def figures(session: AsyncSession, tenant_id: uuid.UUID, days: int = 30) -> SequencingFigures:
    """Runs and flow cells by state, flow cells under warranty still on the shelf, and recent yield."""
    settings = await read_settings(session, tenant_id)
    usable = FlowCell.state.in_([state.value for state in (FlowCellState.IN_STOCK, *LOADABLE)])
    imported = await repository.imported_metrics(session, tenant_id, utcnow() - timedelta(days=days))
    below = await repository.count_flow_cells(session, tenant_id, usable, below_warranty_condition(settings))
    return SequencingFigures(
        runs_by_state=await repository.count_by_state(session, Run, tenant_id),
        flow_cells_by_state=await repository.count_by_state(session, FlowCell, tenant_id),
        below_warranty=below,
        days=days,
        runs_imported=len(imported),
        bases=sum(int(metrics.get("bases", 0)) for metrics in imported),
        pass_bases=sum(int(metrics.get("pass_bases", 0)) for metrics in imported),
    )


# ---------------------------------------------------------------- pages


async def newest_flow_cells(
    session: AsyncSession, actor: Actor, limit: int, *, loadable_only: bool = False
) -> list[FlowCell]:
    """The facility's newest flow cells (only those a run could load, if asked), for pages that show the latest."""
    where = [FlowCell.state.in_([state.value for state in LOADABLE])] if loadable_only else []
    rows, _cursor = await repository.page(session, FlowCell, actor.tenant_id, None, limit, where=where)
    return rows


async def newest_pools(session: AsyncSession, actor: Actor, limit: int) -> list[Pool]:
    rows, _cursor = await repository.page(session, Pool, actor.tenant_id, None, limit)
    return rows


async def newest_runs(session: AsyncSession, actor: Actor, limit: int) -> list[Run]:
    rows, _cursor = await repository.page(session, Run, actor.tenant_id, None, limit)
    return rows


async def newest_instruments(session: AsyncSession, actor: Actor, limit: int) -> list[Instrument]:
    rows, _cursor = await repository.page(session, Instrument, actor.tenant_id, None, limit)
    return rows
