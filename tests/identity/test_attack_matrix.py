"""The attack matrix: every API route × every kind of caller → the status it must answer.

The routes come from the application's own route table, so a route is covered
the day it is added. Each route is classified by rules read from its
dependencies:

* listed in ``PUBLIC_ROUTES``           → callable without credentials;
* depends on ``require(Permission.P)``  → needs P (403 for a role without it);
* depends on ``current_actor`` only     → any authenticated caller.

A route that fits none of these fails the test: add it to ``PUBLIC_ROUTES``
or give it an identity dependency.

Callers: no credentials, an expired access token, a revoked API key, a user
of the other tenant, and a user of each role. Tenant isolation is checked two
ways: a route with path parameters is called by the other tenant's
administrator with this tenant's ids and must answer 404 (never 403: another
facility's objects do not exist for the caller); a GET route without path
parameters (lists, exports) must not mention any id or unique value of the
other tenant in its body.

Adding a domain: register, in ``RESOURCE_FIXTURES``, a factory for the path
prefix of its routes with parameters, e.g. ``"/api/v1/samples/{sample_id}"``.
The factory gets the database and the tenant's administrator, creates one
real object through the domain's service, and returns the path parameters
that name it plus the "markers" (ids, unique names) that must never show up
in another tenant's answers. A route with path parameters that no factory
covers fails the test.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from seqtrack.identity import service, tokens
from seqtrack.identity.actor import Actor
from seqtrack.identity.deps import current_actor
from seqtrack.intake import service as intake_service
from seqtrack.integrations import webhooks
from seqtrack.integrations.schemas import WebhookIn
from seqtrack.jobs import service as jobs_service
from seqtrack.platform.database import Database
from seqtrack.platform.models import utcnow
from seqtrack.platform.permissions import ROLE_PERMISSIONS, Permission, Role
from seqtrack.samples import service as samples_service
from seqtrack.samples.lifecycle import SampleStatus
from seqtrack.samples.schemas import QcIn, QcKind, SampleCreate, SampleType
from seqtrack.sequencing import repository as sequencing_repository
from seqtrack.sequencing import service as sequencing_service
from seqtrack.sequencing.schemas import FlowCellIn, InstrumentIn, LibraryIn, PoolIn, RunIn
from seqtrack.settings import Settings
from seqtrack.storage import service as storage_service
from seqtrack.storage.schemas import PlacementIn, ReservationIn
from tests.fixtures.identity import Member, make_member, make_tenant
from tests.fixtures.storage import make_freezer

# Among the slowest tests of the suite: run first, so the suite does not end waiting on them.
pytestmark = pytest.mark.slow

API = "/api/v1"

PUBLIC_ROUTES = {
    ("POST", f"{API}/auth/token"),
    ("POST", f"{API}/auth/refresh"),
    ("POST", f"{API}/auth/logout"),
    ("POST", f"{API}/auth/session"),
    ("POST", f"{API}/auth/password-reset"),
    ("POST", f"{API}/auth/password-reset/confirm"),
}


@dataclass
class Resource:
    params: dict[str, str]
    markers: set[str] = field(default_factory=set)


ResourceFactory = Callable[[Database, Member], Awaitable[Resource]]


async def _a_user(database: Database, admin: Member) -> Resource:
    member = await make_member(database, admin.tenant_id, Role.TECHNICIAN)
    return Resource({"user_id": str(member.user_id)}, {str(member.user_id), member.email})


async def _a_lab(database: Database, admin: Member) -> Resource:
    async with database.write_session() as session:
        lab = await service.create_lab(session, admin.actor, name=f"Lab {uuid.uuid4().hex[:8]}")
    return Resource({"lab_id": str(lab.id)}, {str(lab.id), lab.name})


async def _an_api_key(database: Database, admin: Member) -> Resource:
    async with database.write_session() as session:
        key, _ = await service.create_api_key(
            session,
            admin.actor,
            name=f"pipeline {uuid.uuid4().hex[:8]}",
            permissions=[Permission.USERS_READ],
            expires_at=None,
        )
    return Resource({"api_key_id": str(key.id)}, {str(key.id), key.prefix, key.name})


async def _a_sample(database: Database, admin: Member) -> Resource:
    barcode = f"TUBE-{uuid.uuid4().hex[:10]}"
    async with database.write_session() as session:
        sample = await samples_service.create_sample(
            session,
            admin.actor,
            SampleCreate(name="Attack matrix tube", sample_type=SampleType.HMW_DNA, barcode=barcode),
        )
    # Human ids repeat across tenants (each counts from 1), so only the id and barcode are markers.
    return Resource({"sample_id": str(sample.id), "position": "1"}, {str(sample.id), barcode})


async def _a_sample_code(database: Database, admin: Member) -> Resource:
    found = await _a_sample(database, admin)
    barcode = next(marker for marker in found.markers if marker.startswith("TUBE-"))
    return Resource({"code": barcode}, found.markers)


async def _a_submission(database: Database, admin: Member) -> Resource:
    name = f"INTAKE-{uuid.uuid4().hex[:10]}"
    content = f"Sample Name,Sample Type\r\n{name},HMW DNA\r\n".encode()

    async def chunks() -> AsyncIterator[bytes]:
        yield content

    submission = await intake_service.receive_file(
        database, database.settings, admin.actor, chunks(), file_name="matrix.csv", lab_id=None, project=None
    )
    return Resource({"submission_id": str(submission.id), "row_number": "2"}, {str(submission.id), name})


async def _a_job(database: Database, admin: Member) -> Resource:
    async with database.write_session() as session:
        # Due in an hour: the app's embedded worker leaves it alone during the test.
        job = await jobs_service.enqueue(
            session,
            "email.send",
            {"to": "pi@lab.example", "subject": "QC report", "body": "attached"},
            tenant_id=admin.tenant_id,
            delay_seconds=3600,
        )
    return Resource({"job_id": str(job.id)}, {str(job.id)})


async def _a_webhook(database: Database, admin: Member) -> Resource:
    # The loopback receiver is only allowed because the test says so; production refuses it.
    settings = database.settings.model_copy(update={"webhook_allow_private_networks": True})
    body = WebhookIn(url=f"http://127.0.0.1:9/{uuid.uuid4().hex}", event_types=["sample.status_changed"])
    async with database.write_session() as session:
        webhook, _ = await webhooks.create_webhook(session, admin.actor, body, settings)
    return Resource({"webhook_id": str(webhook.id)}, {str(webhook.id), webhook.url})


async def _a_sequencing_run(database: Database, admin: Member) -> dict[str, Any]:
    """A sample released to library prep, on a library in a pool, planned on a checked flow cell."""
    tag = uuid.uuid4().hex[:8].upper()
    system = Actor.system(admin.tenant_id)
    async with database.write_session() as session:
        sample = await samples_service.create_sample(
            session, admin.actor, SampleCreate(name="Attack matrix isolate", sample_type=SampleType.HMW_DNA)
        )
        for state in (SampleStatus.RECEIVED, SampleStatus.QC):
            await samples_service.move_as_system(session, system, sample.id, state, "attack matrix")
        await samples_service.record_qc(session, admin.actor, sample.id, QcIn(kind=QcKind.A260_280, value=1.85))
        await samples_service.move_as_system(session, system, sample.id, SampleStatus.LIBRARY_PREP, "attack matrix")
        instrument = await sequencing_service.register_instrument(
            session, admin.actor, InstrumentIn(name=f"GXB{tag}", model="gridion")
        )
        flow_cell = await sequencing_service.receive_flow_cell(
            session, admin.actor, FlowCellIn(serial=f"FAX{tag}", product_code="FLO-MIN114")
        )
        await sequencing_service.check_flow_cell(session, admin.actor, flow_cell.id, 1500, None)
        pool = await sequencing_service.create_pool(
            session,
            admin.actor,
            PoolIn(
                name=f"POOL-{tag}",
                libraries=[LibraryIn(name=f"LIB-{tag}", kit="SQK-NBD114.24", barcode="NB01", sample_ids=[sample.id])],
            ),
        )
        run = await sequencing_service.plan_run(
            session,
            admin.actor,
            RunIn(
                experiment_id=f"RUN-{tag}",
                instrument_id=instrument.id,
                position="X1",
                flow_cell_id=flow_cell.id,
                pool_id=pool.id,
            ),
        )
        library_id = (await sequencing_repository.pool_libraries(session, [pool.id]))[pool.id][0].id
    return {
        "sample_id": str(sample.id),
        "instrument_id": str(instrument.id),
        "flow_cell_id": str(flow_cell.id),
        "library_id": str(library_id),
        "pool_id": str(pool.id),
        "run_id": str(run.id),
        "markers": {str(run.id), f"FAX{tag}", f"RUN-{tag}", f"POOL-{tag}", f"LIB-{tag}", f"GXB{tag}"},
    }


def _sequencing(param: str) -> ResourceFactory:
    async def factory(database: Database, admin: Member) -> Resource:
        made = await _a_sequencing_run(database, admin)
        return Resource({param: made[param]}, {made[param], *made["markers"]})

    return factory


async def _a_stored_sample(database: Database, admin: Member) -> Resource:
    freezer = await make_freezer(database, admin.actor, rows=2, columns=2)
    tube = await _a_sample(database, admin)
    async with database.write_session() as session:
        await storage_service.place(
            session,
            admin.actor,
            PlacementIn(sample_id=tube.params["sample_id"], container_id=freezer.box_ids[0], position="A1"),
        )
        held = await storage_service.reserve(session, admin.actor, ReservationIn(reference="SUB-matrix", count=1))
    return Resource(
        {
            "unit_id": str(freezer.unit_id),
            "container_id": str(freezer.box_ids[0]),
            "sample_id": tube.params["sample_id"],
            "reservation_id": str(held["id"]),
            "code": freezer.box_codes[0],
            "position": "A1",
            "image_format": "svg",
        },
        {str(freezer.unit_id), str(freezer.box_ids[0]), freezer.box_codes[0], str(held["id"]), *tube.markers},
    )


RESOURCE_FIXTURES: dict[str, ResourceFactory] = {
    f"{API}/samples/{{sample_id}}": _a_sample,
    f"{API}/samples/by-code/{{code}}": _a_sample_code,
    f"{API}/users/{{user_id}}": _a_user,
    f"{API}/labs/{{lab_id}}": _a_lab,
    f"{API}/api-keys/{{api_key_id}}": _an_api_key,
    f"{API}/jobs/{{job_id}}": _a_job,
    f"{API}/webhooks/{{webhook_id}}": _a_webhook,
    f"{API}/sequencing/instruments/{{instrument_id}}": _sequencing("instrument_id"),
    f"{API}/sequencing/flow-cells/{{flow_cell_id}}": _sequencing("flow_cell_id"),
    f"{API}/sequencing/libraries/{{library_id}}": _sequencing("library_id"),
    f"{API}/sequencing/pools/{{pool_id}}": _sequencing("pool_id"),
    f"{API}/sequencing/runs/{{run_id}}": _sequencing("run_id"),
    f"{API}/sequencing/samples/{{sample_id}}": _sequencing("sample_id"),
    f"{API}/submissions/{{submission_id}}": _a_submission,
    f"{API}/storage": _a_stored_sample,
    f"{API}/scan": _a_stored_sample,
    f"{API}/labels": _a_stored_sample,
}

# Streams that stay open for live events; the matrix asks them to catch up and end.
STREAMING_QUERY = {f"{API}/events/stream": {"follow": "false"}}


@dataclass(frozen=True)
class Rule:
    kind: str  # "public" | "authenticated" | "permission"
    permissions: frozenset[Permission] = frozenset()

    def allows(self, role: Role) -> bool:
        return self.permissions <= ROLE_PERMISSIONS[role]


def _dependency_calls(dependant: Any) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _dependency_calls(dependency)


def classify(route: RouteContext, method: str) -> Rule | None:
    if (method, route.path) in PUBLIC_ROUTES:
        return Rule("public")
    calls = list(_dependency_calls(route.dependant))
    needed = frozenset(call.required_permission for call in calls if hasattr(call, "required_permission"))
    if needed:
        return Rule("permission", needed)
    if current_actor in calls:
        return Rule("authenticated")
    return None


def api_routes(app: FastAPI) -> list[tuple[str, RouteContext]]:
    """Every (method, route) under /api/v1, as mounted (prefixes and router dependencies applied)."""
    found = [
        (method, context)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and (context.path or "").startswith(API)
        for method in sorted((context.methods or set()) - {"HEAD", "OPTIONS"})
    ]
    return sorted(found, key=lambda item: (item[1].path or "", item[0]))


def _prefix_for(path: str) -> str | None:
    matches = [prefix for prefix in RESOURCE_FIXTURES if path == prefix or path.startswith(prefix + "/")]
    return max(matches, key=len) if matches else None


def _factory_for(path: str) -> ResourceFactory | None:
    prefix = _prefix_for(path)
    return RESOURCE_FIXTURES[prefix] if prefix else None


@dataclass
class Side:
    """One tenant: a member per role, and one of each resource kind."""

    tenant_id: uuid.UUID
    members: dict[Role, Member]
    resources: dict[str, Resource]
    markers: set[str]


async def _side(database: Database) -> Side:
    tenant = await make_tenant(database)
    members = {role: await make_member(database, tenant, role, lab_names=["Genomics"]) for role in Role}
    resources = {prefix: await factory(database, members[Role.ADMIN]) for prefix, factory in RESOURCE_FIXTURES.items()}
    markers = {str(tenant)} | {m for r in resources.values() for m in r.markers}
    return Side(tenant, members, resources, markers)


def _token(settings: Settings, member: Member, *, expired: bool = False) -> str:
    now = utcnow() - timedelta(hours=2) if expired else utcnow()
    token, _ = tokens.issue_access_token(
        settings, user_id=member.user_id, tenant_id=member.tenant_id, auth_time=now, session_family=None, now=now
    )
    return token


async def _revoked_key(database: Database, admin: Member) -> str:
    async with database.write_session() as session:
        key, secret = await service.create_api_key(
            session, admin.actor, name="revoked", permissions=sorted(admin.actor.permissions), expires_at=None
        )
    async with database.write_session() as session:
        await service.revoke_api_key(session, admin.actor, key.id)
    return secret


PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")


def _path(route: RouteContext, resource: Resource | None) -> str:
    params = resource.params if resource is not None else {}
    return PARAM.sub(lambda match: params.get(match.group(1), str(uuid.uuid4())), route.path or "")


async def test_every_route_answers_every_kind_of_caller_as_the_rules_say(
    app: FastAPI,
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    routes = api_routes(app)
    unclassified = [f"{method} {route.path}" for method, route in routes if classify(route, method) is None]
    assert not unclassified, f"no rule covers (add to PUBLIC_ROUTES or depend on require/current_actor): {unclassified}"
    uncovered = [
        route.path or ""
        for _, route in routes
        if PARAM.search(route.path or "") and _factory_for(route.path or "") is None
    ]
    assert not uncovered, f"routes with path parameters but no entry in RESOURCE_FIXTURES: {sorted(set(uncovered))}"

    home, other = await _side(database), await _side(database)
    callers: dict[str, dict[str, str]] = {
        "no credentials": {},
        "expired token": {"Authorization": f"Bearer {_token(settings, home.members[Role.ADMIN], expired=True)}"},
        "revoked key": {"Authorization": f"Bearer {await _revoked_key(database, home.members[Role.ADMIN])}"},
    }
    role_headers = {role: {"Authorization": f"Bearer {_token(settings, home.members[role])}"} for role in Role}
    intruder = {"Authorization": f"Bearer {_token(settings, other.members[Role.ADMIN])}"}

    failures: list[str] = []
    cases = 0

    async def call(method: str, path: str, headers: dict[str, str]) -> httpx.Response:
        body: dict[str, object] | None = {} if method in {"POST", "PUT", "PATCH"} else None
        return await client.request(method, path, headers=headers, json=body, params=STREAMING_QUERY.get(path))

    def expect(ok: bool, label: str, response: httpx.Response, wanted: str) -> None:
        nonlocal cases
        cases += 1
        if not ok:
            failures.append(f"{label}: got {response.status_code}, wanted {wanted}: {response.text[:200]}")

    for method, route in routes:
        rule = classify(route, method)
        assert rule is not None
        template = route.path or ""
        resource = home.resources.get(_prefix_for(template) or "") if PARAM.search(template) else None
        path = _path(route, resource)
        where = f"{method} {route.path}"

        for caller, headers in callers.items():
            response = await call(method, path, headers)
            if rule.kind == "public":
                expect(response.status_code < 500, f"{where} [{caller}]", response, "< 500")
            else:
                expect(response.status_code == 401, f"{where} [{caller}]", response, "401")

        if rule.kind != "public":
            if resource is not None:
                response = await call(method, path, intruder)
                expect(response.status_code == 404, f"{where} [other tenant's admin]", response, "404")
            elif method == "GET":
                response = await call(method, path, intruder)
                leaked = sorted(marker for marker in home.markers if marker in response.text)
                expect(not leaked, f"{where} [other tenant's admin]", response, f"nothing of tenant A, saw {leaked}")

        for role, headers in role_headers.items():
            response = await call(method, path, headers)
            label = f"{where} [{role.value}]"
            if rule.kind == "permission" and not rule.allows(role):
                expect(response.status_code == 403, label, response, "403")
                continue
            expect(response.status_code not in {401, 403} and response.status_code < 500, label, response, "allowed")
            if method == "GET" and resource is None and rule.kind != "public":
                leaked = sorted(marker for marker in other.markers if marker in response.text)
                expect(not leaked, f"{label} list", response, f"nothing of the other tenant, saw {leaked}")

    with capsys.disabled():
        print(f"\nattack matrix: {cases} cases over {len(routes)} routes, {len(failures)} failed")  # noqa: T201
    assert not failures, "\n".join(failures)
