"""Listing samples: keyset pages, filters, sort, text search and the CSV export."""

from __future__ import annotations

import csv
import io

import httpx
from fastapi import FastAPI

from seqtrack.platform.database import Database
from seqtrack.platform.permissions import Role
from tests.fixtures.actors import staff_actor
from tests.fixtures.identity import make_member, make_tenant
from tests.fixtures.samples import act_as, make_lab, sample_body

API = "/api/v1/samples"


async def _create_many(client: httpx.AsyncClient, count: int, **fields: object) -> list[dict[str, object]]:
    created = []
    for index in range(count):
        response = await client.post(API, json=sample_body(name=f"Tube {index:02d}", **fields))
        assert response.status_code == 201, response.text
        created.append(response.json())
    return created


async def test_keyset_pages_walk_every_sample_once_in_order(app: FastAPI, client: httpx.AsyncClient) -> None:
    act_as(app, staff_actor())
    created = await _create_many(client, 7)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 3, "sort": "human_id", **({"cursor": str(cursor)} if cursor else {})}
        page = (await client.get(API, params=params)).json()
        seen += [item["human_id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [sample["human_id"] for sample in created]
    assert pages == 3


async def test_newest_first_is_the_default_order(app: FastAPI, client: httpx.AsyncClient) -> None:
    act_as(app, staff_actor())
    created = await _create_many(client, 3)
    items = (await client.get(API)).json()["items"]
    assert [item["id"] for item in items] == [sample["id"] for sample in reversed(created)]


async def test_a_malformed_cursor_is_refused_naming_the_cursor(app: FastAPI, client: httpx.AsyncClient) -> None:
    act_as(app, staff_actor())
    response = await client.get(API, params={"cursor": "not-a-cursor"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cursor"


async def test_filters_narrow_the_list(app: FastAPI, client: httpx.AsyncClient, database: Database) -> None:
    acting = act_as(app, staff_actor(await make_tenant(database)))
    lab = await make_lab(database, acting.actor.tenant_id)
    urgent = (await _create_many(client, 1, priority="urgent", lab_id=str(lab), flow_cell_type="flo-pro114m"))[0]
    await _create_many(client, 2, priority="low")
    received = (await _create_many(client, 1))[0]
    await client.post(f"{API}/{received['id']}/transitions", json={"to": "received"})

    async def ids(**params: str | list[str]) -> list[object]:
        response = await client.get(API, params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids(priority="urgent") == [urgent["id"]]
    assert await ids(lab_id=str(lab)) == [urgent["id"]]
    assert await ids(flow_cell_type="FLO-PRO114M") == [urgent["id"]]
    assert await ids(status="received") == [received["id"]]
    assert len(await ids(status=["received", "submitted"])) == 4
    assert len(await ids(overdue="false")) == 4
    assert await ids(overdue="true") == []
    assert (await ids(sort="-priority"))[0] == urgent["id"]


async def test_text_search_finds_id_barcode_name_submitter_and_organism(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor())
    target = (
        await client.post(
            API,
            json=sample_body(
                name="Soil isolate 100%",
                barcode="FX-88231",
                organism="Streptomyces coelicolor",
                submitter_name="Dr. Lena Haugen",
            ),
        )
    ).json()
    await _create_many(client, 2)

    async def found(q: str) -> list[object]:
        return [item["id"] for item in (await client.get(API, params={"q": q})).json()["items"]]

    for query in ("fx-882", "STREPTOMYCES", "haugen", "isolate 100%", target["human_id"]):
        assert await found(query) == [target["id"]], query
    assert await found("_") == []


async def test_the_csv_export_neutralises_formulas_and_reads_back(app: FastAPI, client: httpx.AsyncClient) -> None:
    act_as(app, staff_actor())
    await client.post(API, json=sample_body(name='=HYPERLINK("http://evil")', notes="+1 cmd", project="@SUM(A1)"))
    await client.post(API, json=sample_body(name="-2+3", organism="Homo sapiens"))
    await _create_many(client, 3)

    response = await client.get(f"{API}/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 5
    by_name = {row["name"]: row for row in rows}
    assert by_name['\'=HYPERLINK("http://evil")']["notes"] == "'+1 cmd"
    assert by_name['\'=HYPERLINK("http://evil")']["project"] == "'@SUM(A1)"
    assert "'-2+3" in by_name
    assert by_name["'-2+3"]["organism"] == "Homo sapiens"
    assert by_name["'-2+3"]["concentration_ng_ul"] == "55.0"

    only_human = list(
        csv.DictReader(io.StringIO((await client.get(f"{API}/export.csv", params={"q": "sapiens"})).text))
    )
    assert [row["name"] for row in only_human] == ["'-2+3"]


async def test_a_search_with_a_nul_character_is_refused_naming_q(app: FastAPI, client: httpx.AsyncClient) -> None:
    act_as(app, staff_actor())
    response = await client.get(API, params={"q": "a\x00b"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "q"


async def test_a_misspelt_filter_is_refused_naming_it_rather_than_listing_everything(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor())
    await _create_many(client, 2)
    for path in (API, f"{API}/export.csv"):
        refused = await client.get(path, params={"statuss": "qc"})
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["detail"] == "Unknown query parameter: statuss"
    assert len((await client.get(API, params={"status": "submitted"})).json()["items"]) == 2


async def test_the_export_names_the_lab_and_the_assignee_beside_their_ids(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    act_as(app, staff_actor(tenant))
    lab = await make_lab(database, tenant, "Ortiz lab")
    technician = await make_member(database, tenant, Role.TECHNICIAN, email="kim.tech@facility.example")
    await client.post(API, json=sample_body(name="assigned", lab_id=str(lab), assigned_to=str(technician.user_id)))
    await client.post(API, json=sample_body(name="unassigned"))

    header, *lines = csv.reader(io.StringIO((await client.get(f"{API}/export.csv")).text))
    assert header.index("lab_name") == header.index("lab_id") + 1
    assert header.index("assignee_name") == header.index("assigned_to") + 1
    rows = {row["name"]: row for row in (dict(zip(header, line, strict=True)) for line in lines)}
    assert rows["assigned"]["lab_id"] == str(lab)
    assert rows["assigned"]["lab_name"] == "Ortiz lab"
    assert rows["assigned"]["assigned_to"] == str(technician.user_id)
    # An account whose display name was its address is shown by the address's local part (no e-mail at rest).
    assert rows["assigned"]["assignee_name"] == "kim.tech"
    assert rows["unassigned"]["lab_name"] == rows["unassigned"]["assignee_name"] == ""
