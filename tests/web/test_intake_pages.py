"""The intake pages over HTTP, as a browser without JavaScript uses them: lists, the order form, review and commit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import httpx
import pytest

from seqtrack.app import create_app
from seqtrack.identity.permissions import Role
from seqtrack.platform.database import Database
from seqtrack.settings import Settings
from tests.fixtures.database import make_settings
from tests.fixtures.http import asgi_client
from tests.fixtures.identity import Member, make_member, make_tenant
from tests.intake.support import count_samples

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

SHEET = (
    "Sample Name,Sample Type,Conc. (ng/µL),Tube,Label\r\n"
    "PG-1,HMW DNA,41,screw cap,TB-PG-1\r\n"
    "PG-2,HMW DNA,oops,screw cap,TB-PG-2\r\n"
)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path / "data", database_url)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(create_app(settings)) as http:
        yield http


async def _sign_in(client: httpx.AsyncClient, member: Member) -> str:
    response = await client.post("/api/v1/auth/session", json={"email": member.email, "password": member.password})
    assert response.status_code == 200
    return str(response.json()["csrf_token"])


async def _post(client: httpx.AsyncClient, csrf: str, path: str, data: Mapping[str, str]) -> httpx.Response:
    return await client.post(path, data={**data, "csrf_token": csrf})


async def test_staff_upload_fix_a_cell_remap_a_column_and_commit_without_javascript(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    technician = await make_member(database, tenant, Role.TECHNICIAN)
    csrf = await _sign_in(client, technician)
    assert 'href="/submissions"' in (await client.get("/")).text
    assert (await client.get("/submissions/new")).status_code == 200

    # Without JavaScript the form goes as it is: its token in a field, beside the file.
    forged = await client.post("/submissions/new", files={"file": ("lab.csv", SHEET.encode())})
    assert forged.status_code == 403
    assert 'name="csrf_token"' in (await client.get("/submissions/new")).text
    uploaded = await client.post(
        "/submissions/new", files={"file": ("lab.csv", SHEET.encode())}, data={"csrf_token": csrf}
    )
    assert uploaded.status_code == 303, uploaded.text
    page_path = uploaded.headers["location"]
    page = await client.get(page_path)
    assert page.status_code == 200
    assert "2 errors" in page.text
    submission_id = page_path.rsplit("/", 1)[1]
    version = (await client.get(f"/api/v1/submissions/{submission_id}")).json()["version"]

    # The "Tube" column holds the kind of tube: read the barcodes from "Label" instead.
    remapped = await _post(
        client,
        csrf,
        f"{page_path}/mapping",
        {
            "version": str(version),
            "count": "5",
            "column_3": "Tube",
            "field_3": "",
            "column_4": "Label",
            "field_4": "barcode",
        },
    )
    assert remapped.status_code == 303, remapped.text
    page = await client.get(page_path)
    assert "1 error" in page.text
    assert "not a number" in page.text or "number" in page.text

    stale = await _post(
        client,
        csrf,
        f"{page_path}/rows/3",
        {"version": str(version), "value_concentration_ng_ul": "38", "original_concentration_ng_ul": "oops"},
    )
    assert stale.status_code == 409
    assert "Nothing was saved in row 3" in stale.text

    version = (await client.get(f"/api/v1/submissions/{submission_id}")).json()["version"]
    fixed = await _post(
        client,
        csrf,
        f"{page_path}/rows/3",
        {"version": str(version), "value_concentration_ng_ul": "38", "original_concentration_ng_ul": "oops"},
    )
    assert fixed.status_code == 303, fixed.text
    committed = await _post(client, csrf, f"{page_path}/commit", {})
    assert committed.status_code == 303, committed.text
    page = await client.get(page_path)
    assert "2 samples created" in page.text
    assert await count_samples(database) == 2
    listed = await client.get("/submissions")
    assert "lab.csv" in listed.text
    assert "Committed" in listed.text


async def test_an_order_with_problems_shows_each_beside_its_field_and_creates_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    submitter = await make_member(database, tenant, Role.SUBMITTER, lab_names=["Okafor lab"])
    (lab,) = submitter.lab_ids
    csrf = await _sign_in(client, submitter)
    form = await client.get("/submissions/order")
    assert form.status_code == 200
    order = {
        "rows": "3",
        "lab_id": str(lab),
        "project": "Gut",
        "submitter_email": "not-an-email",
        "name_0": "G-1",
        "sample_type_0": "hmw_dna",
        "barcode_0": "T-1",
        "name_1": "G-2",
        "sample_type_1": "hmw_dna",
        "barcode_1": "T-1",
    }
    more = await _post(client, csrf, "/submissions/order", {**order, "more": "1"})
    assert more.status_code == 200
    assert 'name="name_5"' in more.text
    assert 'value="G-2"' in more.text

    refused = await _post(client, csrf, "/submissions/order", order)
    assert refused.status_code == 422
    assert 'id="submitter_email-error"' in refused.text
    order["submitter_email"] = "pi@lab.example"
    refused = await _post(client, csrf, "/submissions/order", order)
    assert refused.status_code == 422, refused.text
    assert 'id="barcode_1-error"' in refused.text
    assert "same tube barcode as row 1" in refused.text
    assert (await client.get("/api/v1/submissions")).json()["items"] == []

    order["barcode_1"] = "T-2"
    sent = await _post(client, csrf, "/submissions/order", order)
    assert sent.status_code == 303, sent.text
    page = await client.get(sent.headers["location"])
    assert "Your order was sent" in page.text
    assert "Validated" in page.text
    assert "Order form" in (await client.get("/submissions")).text
    assert await count_samples(database) == 0


async def test_a_submitter_sees_only_their_labs_submissions_cannot_commit_and_staff_reject_with_a_reason(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    technician = await make_member(database, tenant, Role.TECHNICIAN)
    submitter = await make_member(database, tenant, Role.SUBMITTER, lab_names=["Okafor lab"])
    (lab,) = submitter.lab_ids
    csrf = await _sign_in(client, technician)
    theirs = await client.post(
        "/submissions/new", files={"file": ("facility.csv", SHEET.encode())}, headers={"X-CSRF-Token": csrf}
    )
    assert theirs.status_code == 303

    csrf = await _sign_in(client, submitter)
    no_lab = await client.post(
        "/submissions/new", files={"file": ("mine.csv", SHEET.encode())}, headers={"X-CSRF-Token": csrf}
    )
    assert no_lab.status_code == 422
    assert 'id="upload-lab-error"' in no_lab.text
    mine = await client.post(
        "/submissions/new",
        files={"file": ("mine.csv", SHEET.encode())},
        data={"lab_id": str(lab)},
        headers={"X-CSRF-Token": csrf},
    )
    assert mine.status_code == 303, mine.text
    listed = await client.get("/submissions")
    assert "mine.csv" in listed.text
    assert "facility.csv" not in listed.text
    assert (await client.get(theirs.headers["location"])).status_code == 404
    page = await client.get(mine.headers["location"])
    assert "Commit" not in page.text
    assert "Withdraw this submission" in page.text
    assert (await _post(client, csrf, f"{mine.headers['location']}/commit", {})).status_code == 403

    csrf = await _sign_in(client, technician)
    page_path = mine.headers["location"]
    version = (await client.get(f"/api/v1/submissions/{page_path.rsplit('/', 1)[1]}")).json()["version"]
    unexplained = await _post(client, csrf, f"{page_path}/reject", {"reason": " ", "version": str(version)})
    assert unexplained.status_code == 422
    assert "Say why" in unexplained.text
    rejected = await _post(client, csrf, f"{page_path}/reject", {"reason": "tubes thawed", "version": str(version)})
    assert rejected.status_code == 303
    page = await client.get(page_path)
    assert "Rejected by" in page.text
    assert "tubes thawed" in page.text
