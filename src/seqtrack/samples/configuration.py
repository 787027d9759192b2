"""The facility's sample rules: read once per version, cached, changed through the write path."""

from __future__ import annotations

import re
import uuid
from copy import deepcopy
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.events.recorder import DomainEvent, record
from seqtrack.platform.actor import Actor
from seqtrack.platform.database import database_of
from seqtrack.platform.etag import check_if_match
from seqtrack.samples import repository, rules
from seqtrack.samples.errors import (
    InvalidSettings,
)
from seqtrack.samples.events import SETTINGS_UPDATED
from seqtrack.samples.models import SampleSettings
from seqtrack.samples.schemas import (
    SettingsUpdate,
)

SETTINGS_AGGREGATE = "sample_settings"


CLEARABLE_SETTINGS = frozenset({"billing_code_pattern"})


def default_settings(tenant_id: uuid.UUID) -> SampleSettings:
    return SampleSettings.defaults(
        tenant_id,
        id_prefix=rules.DEFAULT_ID_PREFIX,
        billing_code_pattern=None,
        qc_thresholds={str(kind): value for kind, value in rules.DEFAULT_QC_THRESHOLDS.items()},
        step_template=[dict(step) for step in rules.DEFAULT_STEPS],
        signed_transitions=list(rules.DEFAULT_SIGNED_TRANSITIONS),
        turnaround_hours={str(priority): hours for priority, hours in rules.DEFAULT_TURNAROUND_HOURS.items()},
    )


async def read_settings(session: AsyncSession, tenant_id: uuid.UUID) -> SampleSettings:
    """The tenant's settings; the facility defaults (unsaved) until someone edits them."""
    return await repository.settings(session, tenant_id) or default_settings(tenant_id)


# Every write reads the tenant's rules; they change rarely. The statement that
# loads the sample (or numbers a new one) also reads the settings' version, and
# the rules come from this cache while that version matches: no extra statement,
# and never a stale rule, on every replica.
_RULES: dict[tuple[str, uuid.UUID], SampleSettings] = {}


_SETTINGS_VERSIONS = "seqtrack.samples.settings_versions"


def remember_settings_version(session: AsyncSession, tenant_id: uuid.UUID, version: int | None) -> None:
    session.info.setdefault(_SETTINGS_VERSIONS, {})[tenant_id] = version


async def settings_for_write(session: AsyncSession, tenant_id: uuid.UUID) -> SampleSettings:
    """The rules a change in this unit of work applies: a shared, read-only copy.

    Saved on first use, so a facility keeps the defaults it started with even
    when a later release changes them.
    """
    key = (_cache_key(session), tenant_id)
    known: dict[uuid.UUID, int | None] = session.info.get(_SETTINGS_VERSIONS, {})
    cached = _RULES.get(key)
    if cached is not None and tenant_id in known and known[tenant_id] == cached.version:
        return cached
    row = await _settings_row(session, tenant_id)
    rules_copy = SampleSettings(**{column.key: deepcopy(getattr(row, column.key)) for column in _SETTINGS_COLUMNS})
    _RULES[key] = rules_copy
    remember_settings_version(session, tenant_id, rules_copy.version)
    return rules_copy


async def _settings_row(session: AsyncSession, tenant_id: uuid.UUID) -> SampleSettings:
    existing = await repository.settings(session, tenant_id)
    if existing is not None:
        return existing
    defaults = default_settings(tenant_id)
    insert = pg_insert if dialect(session) == "postgresql" else sqlite_insert
    values = {column.key: getattr(defaults, column.key) for column in _SETTINGS_COLUMNS}
    await session.execute(insert(SampleSettings).values(**values).on_conflict_do_nothing(index_elements=["tenant_id"]))
    stored = await repository.settings(session, tenant_id)
    assert stored is not None
    return stored


_SETTINGS_COLUMNS = tuple(SampleSettings.__table__.columns)


def _cache_key(session: AsyncSession) -> str:
    database = database_of(session)
    return database.url if database is not None else ""


async def update_settings(
    session: AsyncSession, actor: Actor, body: SettingsUpdate, if_match: str | None
) -> SampleSettings:
    current = await _settings_row(session, actor.tenant_id)
    check_if_match(if_match, current.tenant_id, current.version, required=True)
    errors: list[dict[str, Any]] = []
    new_values = body.model_dump(mode="json", exclude_unset=True)
    if "billing_code_pattern" in new_values and new_values["billing_code_pattern"] is not None:
        try:
            re.compile(new_values["billing_code_pattern"])
        except re.error as exc:
            errors.append({"field": "billing_code_pattern", "message": f"not a regular expression: {exc}"})
    for name in new_values.get("signed_transitions") or []:
        if name not in rules.TRANSITION_NAMES:
            errors.append({"field": "signed_transitions", "message": f"{name!r} is not a transition"})
    if "qc_thresholds" in new_values:
        new_values["qc_thresholds"] = {**current.qc_thresholds, **new_values["qc_thresholds"]}
    if "turnaround_hours" in new_values:
        new_values["turnaround_hours"] = {**current.turnaround_hours, **new_values["turnaround_hours"]}
    if errors:
        raise InvalidSettings("Some settings are not valid.", errors=errors)
    changes = {
        name: (getattr(current, name), value)
        for name, value in new_values.items()
        # Only the billing pattern may be cleared (no pattern: any code); the rest keep a value.
        if (value is not None or name in CLEARABLE_SETTINGS) and getattr(current, name) != value
    }
    if not changes:
        return current
    for name, (_old, value) in changes.items():
        setattr(current, name, value)
    current.version += 1
    stored = await record(
        session,
        DomainEvent(
            type=SETTINGS_UPDATED,
            aggregate_type=SETTINGS_AGGREGATE,
            aggregate_id=current.tenant_id,
            changes=changes,
        ),
        actor,
        version=current.version,
    )
    current.updated_at = stored.occurred_at
    await session.flush()
    return current


def dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"
