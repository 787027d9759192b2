"""The samples API as automation uses it: ETags, idempotent POSTs, history, bulk moves, scoping."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY

from seqtrack.platform.database import Database
from seqtrack.platform.permissions import Role
from seqtrack.samples.schemas import SampleOut
from tests.fixtures.actors import staff_actor
from tests.fixtures.identity import make_tenant
from tests.fixtures.samples import act_as, make_lab, sample_body, submitter_actor

API = "/api/v1/samples"


async def _create(client: httpx.AsyncClient, **fields: object) -> dict[str, object]:
    response = await client.post(API, json=sample_body(**fields))
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_a_new_sample_gets_a_tenant_prefixed_id_an_etag_and_the_default_steps(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor())
    created = await client.post(API, json=sample_body(barcode="TUBE-0001"))
    assert created.status_code == 201
    sample = created.json()
    assert sample["human_id"] == "SEQ-000001"
    assert sample["status"] == "submitted"
    assert sample["version"] == 1
    assert created.headers["ETag"] == f'"{sample["id"]}-1"'

    read = await client.get(f"{API}/{sample['id']}")
    assert read.headers["ETag"] == created.headers["ETag"]
    steps = (await client.get(f"{API}/{sample['id']}/steps")).json()
    assert [(step["name"], step["expected_hours"]) for step in steps] == [
        ("Sample QC", 1),
        ("Library Preparation", 4),
        ("Library QC", 1),
        ("Sequencing Setup", 1),
        ("Sequencing Run", 48),
        ("Basecalling", 2),
        ("Quality Assessment", 1),
        ("Data Delivery", 1),
    ]


async def test_out_of_range_values_are_refused_naming_the_field(app: FastAPI, client: httpx.AsyncClient) -> None:
    act_as(app, staff_actor())
    response = await client.post(API, json=sample_body(concentration_ng_ul=20_000, volume_ul=0.01))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"concentration_ng_ul", "volume_ul"}
    assert (await client.get(API)).json()["items"] == []


async def test_a_duplicate_barcode_in_the_same_tenant_is_refused(app: FastAPI, client: httpx.AsyncClient) -> None:
    acting = act_as(app, staff_actor())
    await _create(client, barcode="TUBE-7")
    again = await client.post(API, json=sample_body(barcode="TUBE-7"))
    assert again.status_code == 409
    assert again.json()["code"] == "sample.duplicate_barcode"
    acting.actor = staff_actor()
    assert (await client.post(API, json=sample_body(barcode="TUBE-7"))).status_code == 201


async def test_two_patches_with_the_same_etag_give_one_200_and_one_412(app: FastAPI, client: httpx.AsyncClient) -> None:
    act_as(app, staff_actor())
    sample = await _create(client)
    etag = (await client.get(f"{API}/{sample['id']}")).headers["ETag"]

    first, second = await asyncio.gather(
        client.patch(f"{API}/{sample['id']}", json={"notes": "from bench A"}, headers={"If-Match": etag}),
        client.patch(f"{API}/{sample['id']}", json={"notes": "from bench B"}, headers={"If-Match": etag}),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 412]
    winner = first if first.status_code == 200 else second
    now = (await client.get(f"{API}/{sample['id']}")).json()
    assert now["notes"] == winner.json()["notes"]
    assert now["version"] == 2
    events = (await client.get(f"{API}/{sample['id']}/events")).json()
    assert [event["type"] for event in events] == ["sample.created", "sample.updated"]


async def test_a_patch_without_if_match_is_refused_with_428(app: FastAPI, client: httpx.AsyncClient) -> None:
    act_as(app, staff_actor())
    sample = await _create(client)
    response = await client.patch(f"{API}/{sample['id']}", json={"notes": "x"})
    assert response.status_code == 428
    assert (await client.get(f"{API}/{sample['id']}")).json()["notes"] is None


async def test_the_same_post_with_the_same_idempotency_key_creates_one_sample(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor())
    headers = {"Idempotency-Key": "intake-batch-7-row-1"}
    first = await client.post(API, json=sample_body(), headers=headers)
    second = await client.post(API, json=sample_body(), headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert len((await client.get(API)).json()["items"]) == 1

    other = await client.post(API, json=sample_body(name="Other tube"), headers=headers)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency.key_reused"
    assert len((await client.get(API)).json()["items"]) == 1


async def test_an_illegal_transition_answers_409_with_the_allowed_states(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor())
    sample = await _create(client)
    response = await client.post(f"{API}/{sample['id']}/transitions", json={"to": "sequencing"})
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "sample.illegal_transition"
    assert problem["allowed"] == ["received", "on_hold", "failed", "cancelled"]
    assert (await client.get(f"{API}/{sample['id']}")).json()["status"] == "submitted"


async def test_as_of_before_a_transition_shows_the_old_state_and_events_match_the_audit_trail(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor(role=Role.MANAGER))
    sample = await _create(client)
    await client.post(f"{API}/{sample['id']}/transitions", json={"to": "received", "reason": "on dry ice"})
    etag = (await client.get(f"{API}/{sample['id']}")).headers["ETag"]
    await client.patch(f"{API}/{sample['id']}", json={"volume_ul": 25.5}, headers={"If-Match": etag})
    events = (await client.get(f"{API}/{sample['id']}/events")).json()
    assert [event["type"] for event in events] == ["sample.created", "sample.status_changed", "sample.updated"]

    received_at = datetime.fromisoformat(events[1]["occurred_at"])
    before = (await client.get(f"{API}/{sample['id']}", params={"as_of": events[0]["occurred_at"]})).json()
    assert before["status"] == "submitted"
    assert before["volume_ul"] == 30.0
    between = (await client.get(f"{API}/{sample['id']}", params={"as_of": received_at.isoformat()})).json()
    assert between["status"] == "received"
    assert between["volume_ul"] == 30.0

    trail = (await client.get("/api/v1/audit", params={"entity_id": str(sample["id"]), "order": "asc"})).json()["items"]
    assert [(entry["event_id"], entry["action"]) for entry in trail] == [
        (event["id"], event["type"]) for event in events
    ]
    assert trail[1]["reason"] == "on dry ice"
    assert trail[2]["changes"] == {"volume_ul": [30.0, 25.5]}


async def test_a_bulk_transition_with_one_ineligible_sample_changes_none_and_names_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor())
    ready = [await _create(client) for _ in range(3)]
    cancelled = await _create(client)
    await client.post(f"{API}/{cancelled['id']}/transitions", json={"to": "cancelled", "reason": "withdrawn"})

    ids = [sample["id"] for sample in [*ready, cancelled]]
    response = await client.post(f"{API}/transitions", json={"sample_ids": ids, "to": "received", "reason": "box 4"})
    assert response.status_code == 409
    refusals = response.json()["refusals"]
    assert [(refusal["sample_id"], refusal["human_id"]) for refusal in refusals] == [
        (cancelled["id"], cancelled["human_id"])
    ]
    assert refusals[0]["allowed"] == ["disposed"]
    for sample in ready:
        assert (await client.get(f"{API}/{sample['id']}")).json()["status"] == "submitted"

    ok = await client.post(f"{API}/transitions", json={"sample_ids": ids[:3], "to": "received", "reason": "box 4"})
    assert ok.status_code == 200
    assert {sample["status"] for sample in ok.json()["changed"]} == {"received"}


async def test_a_bulk_transition_refuses_more_than_a_thousand_samples(app: FastAPI, client: httpx.AsyncClient) -> None:
    act_as(app, staff_actor())
    ids = [str(uuid.uuid4()) for _ in range(1001)]
    response = await client.post(f"{API}/transitions", json={"sample_ids": ids, "to": "received"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "sample_ids"


async def test_another_tenants_sample_answers_404(app: FastAPI, client: httpx.AsyncClient) -> None:
    acting = act_as(app, staff_actor())
    sample = await _create(client)
    acting.actor = staff_actor()
    assert (await client.get(f"{API}/{sample['id']}")).status_code == 404
    assert (await client.get(f"{API}/{sample['id']}/events")).status_code == 404
    response = await client.post(f"{API}/{sample['id']}/transitions", json={"to": "received"})
    assert response.status_code == 404
    assert (await client.get(API)).json()["items"] == []


async def test_a_submitter_sees_only_their_own_labs_samples(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tech = staff_actor(await make_tenant(database))
    acting = act_as(app, tech)
    own_lab, other_lab = await make_lab(database, tech.tenant_id), await make_lab(database, tech.tenant_id)
    mine = await _create(client, lab_id=str(own_lab))
    theirs = await _create(client, lab_id=str(other_lab))
    acting.actor = submitter_actor(tech.tenant_id, {own_lab})
    listed = (await client.get(API)).json()["items"]
    assert [sample["id"] for sample in listed] == [mine["id"]]
    assert (await client.get(f"{API}/{theirs['id']}")).status_code == 404
    assert (await client.post(API, json=sample_body())).status_code == 403
    acting.actor = tech
    await client.post(f"{API}/{mine['id']}/transitions", json={"to": "received"})
    # The live feed shows submitters the events that name their lab.
    events = (await client.get(f"{API}/{mine['id']}/events")).json()
    assert {event["data"]["lab_id"] for event in events} == {str(own_lab)}


async def test_cancelling_without_a_reason_is_refused_naming_the_reason_field(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor())
    sample = await _create(client)
    response = await client.post(f"{API}/{sample['id']}/transitions", json={"to": "cancelled"})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "reason", "message": "required for cancelled"}]
    assert (await client.delete(f"{API}/{sample['id']}")).status_code == 405


async def test_a_retried_transition_with_its_idempotency_key_returns_the_first_answer(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor())
    sample = await _create(client)
    headers = {"Idempotency-Key": "scan-4411"}
    first = await client.post(f"{API}/{sample['id']}/transitions", json={"to": "received"}, headers=headers)
    retry = await client.post(f"{API}/{sample['id']}/transitions", json={"to": "received"}, headers=headers)
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()
    assert retry.headers["ETag"] == first.headers["ETag"]
    events = (await client.get(f"{API}/{sample['id']}/events")).json()
    assert [event["type"] for event in events] == ["sample.created", "sample.status_changed"]


async def test_a_read_with_the_current_etag_in_if_none_match_answers_304(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor())
    sample = await _create(client)
    etag = (await client.get(f"{API}/{sample['id']}")).headers["ETag"]
    cached = await client.get(f"{API}/{sample['id']}", headers={"If-None-Match": etag})
    assert cached.status_code == 304
    await client.post(f"{API}/{sample['id']}/transitions", json={"to": "received"})
    fresh = await client.get(f"{API}/{sample['id']}", headers={"If-None-Match": etag})
    assert fresh.status_code == 200
    assert fresh.json()["status"] == "received"


async def test_an_admin_edits_the_step_list_and_new_samples_follow_it(app: FastAPI, client: httpx.AsyncClient) -> None:
    acting = act_as(app, staff_actor(role=Role.ADMIN))
    read = await client.get(f"{API}/settings")
    assert read.json()["signed_transitions"] == ["qc->library_prep", "library_prep->sequencing", "analysis->delivered"]
    steps = [{"name": "Sample QC", "expected_hours": 1}, {"name": "Adaptive sampling run", "expected_hours": 72}]
    missing = await client.patch(f"{API}/settings", json={"step_template": steps})
    assert missing.status_code == 428
    changed = await client.patch(
        f"{API}/settings", json={"step_template": steps}, headers={"If-Match": read.headers["ETag"]}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 1
    sample = await _create(client)
    names = [step["name"] for step in (await client.get(f"{API}/{sample['id']}/steps")).json()]
    assert names == ["Sample QC", "Adaptive sampling run"]
    trail = (await client.get("/api/v1/audit", params={"action": "sample_settings.updated"})).json()["items"]
    assert trail[0]["changes"]["step_template"][1] == steps

    acting.actor = staff_actor(acting.actor.tenant_id, Role.TECHNICIAN)
    refused = await client.patch(f"{API}/settings", json={"id_prefix": "NANO"}, headers={"If-Match": "*"})
    assert refused.status_code == 403


async def test_a_lab_or_assignee_outside_the_facility_is_refused_naming_the_field(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    acting = act_as(app, staff_actor(await make_tenant(database)))
    elsewhere = await make_lab(database, await make_tenant(database))
    response = await client.post(API, json=sample_body(lab_id=str(elsewhere), assigned_to=str(uuid.uuid4())))
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["lab_id", "assigned_to"]
    own = await make_lab(database, acting.actor.tenant_id)
    assert (await client.post(API, json=sample_body(lab_id=str(own)))).status_code == 201


async def test_transitions_are_counted_for_prometheus_only_once_committed(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor())
    labels = {"source": "submitted", "target": "received"}

    def moved() -> float:
        return REGISTRY.get_sample_value("seqtrack_sample_transitions_total", labels) or 0.0

    sample = await _create(client)
    before = moved()
    await client.post(f"{API}/{sample['id']}/transitions", json={"to": "received"})
    await client.post(f"{API}/{sample['id']}/transitions", json={"to": "received"})
    assert moved() == before + 1
    assert "seqtrack_sample_transitions_total" in (await client.get("/metrics")).text


async def test_text_with_a_nul_character_is_refused_naming_the_field(app: FastAPI, client: httpx.AsyncClient) -> None:
    act_as(app, staff_actor())
    response = await client.post(API, json=sample_body(notes="ok\x00not ok"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "notes"


async def test_the_fast_json_of_a_sample_is_exactly_what_its_documented_schema_says(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor())
    created = await _create(client, due_date="2030-01-31", notes="Ü" * 50, concentration_ng_ul=12.5, barcode="T-1")
    for answer in (
        (await client.get(f"{API}/{created['id']}")).json(),
        (await client.get(API)).json()["items"][0],
        created,
    ):
        assert answer == SampleOut.model_validate(answer).model_dump(mode="json")
        assert str(answer["due_at"]).endswith("Z")


async def test_a_scanned_barcode_or_typed_id_finds_exactly_its_sample_and_nothing_outside_the_callers_view(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant_id = await make_tenant(database)
    own_lab = await make_lab(database, tenant_id)
    other_lab = await make_lab(database, tenant_id)
    tech = staff_actor(tenant_id)
    acting = act_as(app, tech)
    tube = await _create(client, barcode="TUBE-7731", lab_id=str(own_lab))
    elsewhere = await _create(client, barcode="TUBE-7732", lab_id=str(other_lab))

    by_barcode = await client.get(f"{API}/by-code/TUBE-7731")
    assert by_barcode.status_code == 200
    assert by_barcode.json()["id"] == tube["id"]
    assert by_barcode.headers["ETag"] == f'"{tube["id"]}-1"'
    assert (await client.get(f"{API}/by-code/{str(tube['human_id']).lower()}")).json()["id"] == tube["id"]
    # Exact, not a search: a prefix of a barcode finds nothing.
    missing = await client.get(f"{API}/by-code/TUBE-77")
    assert missing.status_code == 404
    assert "TUBE-77" in missing.json()["detail"]

    acting.actor = submitter_actor(tenant_id, {own_lab})
    assert (await client.get(f"{API}/by-code/TUBE-7731")).status_code == 200
    assert (await client.get(f"{API}/by-code/TUBE-7732")).status_code == 404
    acting.actor = staff_actor(await make_tenant(database))
    assert (await client.get(f"{API}/by-code/{elsewhere['barcode']}")).status_code == 404
