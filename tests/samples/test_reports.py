"""The reports API gives exactly the figures of a facility whose history is known, as JSON and as CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import httpx
from fastapi import FastAPI

from seqtrack.identity.permissions import Role
from seqtrack.platform.database import Database
from tests.fixtures.identity import make_member, make_tenant
from tests.fixtures.reports import seed_reporting_facility
from tests.fixtures.samples import act_as
from tests.fixtures.statements import counting_statements

API = "/api/v1/reports"


def _rows(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment;")
    return list(csv.reader(io.StringIO(response.text)))


async def test_samples_by_state_counts_every_state_of_the_facility(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    facility = await seed_reporting_facility(database)
    act_as(app, facility.manager.actor)
    report = (await client.get(f"{API}/samples-by-state")).json()
    counts = {row["state"]: row["samples"] for row in report["states"]}
    assert report["total"] == 11
    assert counts == {
        "submitted": 1,
        "received": 1,
        "qc": 1,
        "library_prep": 0,
        "sequencing": 1,
        "analysis": 0,
        "delivered": 5,
        "archived": 0,
        "on_hold": 1,
        "failed": 1,
        "cancelled": 0,
        "disposed": 0,
    }
    rows = _rows(await client.get(f"{API}/samples-by-state.csv"))
    assert rows[0] == ["state", "samples"]
    assert ["delivered", "5"] in rows
    assert len(rows) == 13


async def test_overdue_counts_open_samples_past_their_due_time_by_priority(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    facility = await seed_reporting_facility(database)
    act_as(app, facility.manager.actor)
    report = (await client.get(f"{API}/overdue")).json()
    assert (report["open"], report["overdue"]) == (5, 2)
    by_priority = {row["priority"]: (row["target_hours"], row["open"], row["overdue"]) for row in report["priorities"]}
    assert by_priority == {
        "low": (672, 1, 0),
        "normal": (336, 1, 0),
        "high": (168, 2, 1),
        "urgent": (72, 1, 1),
    }
    urgent = next(row for row in report["priorities"] if row["priority"] == "urgent")
    oldest = (facility.today - timedelta(hours=30)).isoformat().replace("+00:00", "Z")
    assert urgent["oldest_due_at"] == oldest
    rows = _rows(await client.get(f"{API}/overdue.csv"))
    assert rows[0] == ["priority", "target_hours", "open", "overdue", "oldest_due_at"]
    assert rows[4] == ["urgent", "72.0", "1", "1", oldest]


async def test_throughput_counts_receipts_and_deliveries_per_day_of_the_week(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    facility = await seed_reporting_facility(database)
    act_as(app, facility.manager.actor)
    report = (await client.get(f"{API}/throughput")).json()
    today = facility.today.date().isoformat()
    assert len(report["days"]) == 7
    assert report["days"][0]["date"] == report["week_start"]
    assert (report["received"], report["delivered"]) == (5, 5)
    assert [day for day in report["days"] if day["received"] or day["delivered"]] == [
        {"date": today, "received": 5, "delivered": 5}
    ]

    # An earlier week: D5 was received 400 hours before today's midnight, nothing was delivered.
    earlier = (facility.today - timedelta(hours=400)).date()
    past = (await client.get(f"{API}/throughput", params={"week_of": earlier.isoformat()})).json()
    assert {day["date"]: day["received"] for day in past["days"]}[earlier.isoformat()] == 1
    assert past["delivered"] == 0

    rows = _rows(await client.get(f"{API}/throughput.csv"))
    assert rows[0] == ["date", "received", "delivered"]
    assert [today, "5", "5"] in rows
    assert len(rows) == 8


async def test_turnaround_is_the_median_by_priority_and_by_sample_type(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    facility = await seed_reporting_facility(database)
    act_as(app, facility.manager.actor)
    report = (await client.get(f"{API}/turnaround")).json()
    assert [(g["group"], g["samples"], g["median_hours"], g["on_time"]) for g in report["by_priority"]] == [
        ("normal", 2, 350.0, 2),
        ("urgent", 3, 220.0, 2),
    ]
    assert [(g["group"], g["samples"], g["median_hours"], g["on_time"]) for g in report["by_sample_type"]] == [
        ("genomic_dna", 2, 310.0, 1),
        ("hmw_dna", 3, 260.0, 3),
    ]
    rows = _rows(await client.get(f"{API}/turnaround.csv"))
    assert rows == [
        ["dimension", "group", "samples", "median_hours", "on_time"],
        ["priority", "normal", "2", "350.0", "2"],
        ["priority", "urgent", "3", "220.0", "2"],
        ["sample_type", "genomic_dna", "2", "310.0", "1"],
        ["sample_type", "hmw_dna", "3", "260.0", "3"],
    ]
    refused = await client.get(f"{API}/turnaround", params={"days": 0})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "days"


async def test_qc_failure_rate_counts_recent_verdicts_per_sample_and_per_kind(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    facility = await seed_reporting_facility(database)
    act_as(app, facility.manager.actor)
    report = (await client.get(f"{API}/qc-failure-rate")).json()
    assert (report["samples_measured"], report["samples_failed"], report["failure_rate"]) == (4, 2, 0.5)
    kinds = {row["kind"]: (row["measurements"], row["passed"], row["warned"], row["failed"]) for row in report["kinds"]}
    assert kinds["a260_280"] == (3, 2, 1, 0)
    assert kinds["concentration"] == (1, 0, 0, 1)
    assert kinds["din"] == (1, 0, 0, 1)
    assert kinds["volume"] == (1, 1, 0, 0)
    assert kinds["rin"] == (0, 0, 0, 0)
    # Widen the window and the 40-day-old failing concentration on O1 counts too.
    wider = (await client.get(f"{API}/qc-failure-rate", params={"days": 60})).json()
    assert (wider["samples_measured"], wider["samples_failed"]) == (5, 3)
    rows = _rows(await client.get(f"{API}/qc-failure-rate.csv"))
    assert rows[0] == ["kind", "measurements", "passed", "warned", "failed", "failure_rate"]
    assert ["concentration", "1", "0", "0", "1", "1.0"] in rows


async def test_a_submitter_gets_only_their_labs_figures(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    facility = await seed_reporting_facility(database)
    act_as(app, facility.submitter.actor)
    states = (await client.get(f"{API}/samples-by-state")).json()
    assert states["total"] == 3
    assert {row["state"]: row["samples"] for row in states["states"] if row["samples"]} == {
        "received": 1,
        "qc": 1,
        "delivered": 1,
    }
    overdue = (await client.get(f"{API}/overdue")).json()
    assert (overdue["open"], overdue["overdue"]) == (2, 1)
    throughput = (await client.get(f"{API}/throughput")).json()
    assert (throughput["received"], throughput["delivered"]) == (2, 1)
    turnaround = (await client.get(f"{API}/turnaround")).json()
    assert [(g["group"], g["median_hours"]) for g in turnaround["by_priority"]] == [("urgent", 200.0)]
    qc = (await client.get(f"{API}/qc-failure-rate")).json()
    assert (qc["samples_measured"], qc["samples_failed"]) == (2, 1)


async def test_another_facility_sees_none_of_these_figures(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    await seed_reporting_facility(database)
    stranger = await make_member(database, await make_tenant(database), Role.MANAGER)
    act_as(app, stranger.actor)
    assert (await client.get(f"{API}/samples-by-state")).json()["total"] == 0
    assert (await client.get(f"{API}/overdue")).json()["open"] == 0
    assert (await client.get(f"{API}/throughput")).json()["received"] == 0
    assert (await client.get(f"{API}/turnaround")).json()["by_priority"] == []
    assert (await client.get(f"{API}/qc-failure-rate")).json()["samples_measured"] == 0


async def test_each_report_is_counted_by_the_database_in_one_or_two_statements(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    facility = await seed_reporting_facility(database)
    act_as(app, facility.manager.actor)
    for name in ("samples-by-state", "overdue", "throughput", "turnaround", "qc-failure-rate"):
        with counting_statements(database) as statements:
            assert (await client.get(f"{API}/{name}")).status_code == 200
        sent = [statement for statement in statements.sent if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK"))]
        assert len(sent) <= 2, f"{name} sent {len(sent)} statements:\n{statements}"
