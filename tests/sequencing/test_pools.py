"""Libraries and pools: barcodes from the kit's set, and no two libraries that would clash on one flow cell."""

from __future__ import annotations

import httpx

from tests.fixtures.identity import Member
from tests.fixtures.sequencing import SAMPLES, SEQ, ok, samples_in_library_prep


async def test_a_pool_with_nb05_twice_is_refused_naming_both_libraries(
    client: httpx.AsyncClient, technician: Member
) -> None:
    first, second = await samples_in_library_prep(client, technician.password, 2)
    for name, sample in (("LIB-A", first), ("LIB-B", second)):
        ok(
            await client.post(
                f"{SEQ}/libraries",
                json={"name": name, "kit": "SQK-NBD114.24", "barcode": "NB05", "sample_ids": [sample["id"]]},
            ),
            201,
        )
    library_ids = [library["id"] for library in ok(await client.get(f"{SEQ}/libraries"))["items"]]

    response = await client.post(f"{SEQ}/pools", json={"name": "POOL-1", "library_ids": library_ids})

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "sequencing.pool_refused"
    assert "LIB-A" in problem["detail"]
    assert "LIB-B" in problem["detail"]
    (clash,) = problem["problems"]
    assert clash["kind"] == "barcode_clash"
    assert clash["barcode"] == "barcode05"
    assert sorted(library["name"] for library in clash["libraries"]) == ["LIB-A", "LIB-B"]
    assert ok(await client.get(f"{SEQ}/pools"))["items"] == []


async def test_a_barcode_outside_the_kits_set_is_refused_naming_the_field(
    client: httpx.AsyncClient, technician: Member
) -> None:
    (sample,) = await samples_in_library_prep(client, technician.password, 1)
    response = await client.post(
        f"{SEQ}/libraries",
        json={"name": "LIB-A", "kit": "SQK-NBD114.24", "barcode": "NB30", "sample_ids": [sample["id"]]},
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "barcode", "message": "NB30 is not in SQK-NBD114.24's set NB01–NB24"}
    ]
    rapid_barcode = await client.post(
        f"{SEQ}/libraries",
        json={"name": "LIB-A", "kit": "SQK-NBD114.24", "barcode": "RB05", "sample_ids": [sample["id"]]},
    )
    assert rapid_barcode.status_code == 422
    assert ok(await client.get(f"{SEQ}/libraries"))["items"] == []
    assert ok(await client.get(f"{SAMPLES}/{sample['id']}"))["library_barcode"] is None


async def test_a_pool_built_with_new_libraries_leaves_nothing_behind_when_refused(
    client: httpx.AsyncClient, technician: Member
) -> None:
    first, second = await samples_in_library_prep(client, technician.password, 2)
    response = await client.post(
        f"{SEQ}/pools",
        json={
            "name": "POOL-1",
            "libraries": [
                {"name": "LIB-RAPID", "kit": "SQK-RBK114.24", "barcode": "RB01", "sample_ids": [first["id"]]},
                {"name": "LIB-NATIVE", "kit": "SQK-NBD114.24", "barcode": "NB01", "sample_ids": [second["id"]]},
            ],
        },
    )
    assert response.status_code == 422
    kinds = {problem["kind"]: problem for problem in response.json()["problems"]}
    assert set(kinds) == {"incompatible_kits", "barcode_clash"}
    assert kinds["incompatible_kits"]["kits"] == ["SQK-NBD114.24", "SQK-RBK114.24"]
    assert ok(await client.get(f"{SEQ}/libraries"))["items"] == []
    assert ok(await client.get(f"{SAMPLES}/{first['id']}"))["library_kit"] == "SQK-LSK114"


async def test_the_builder_sees_clashes_before_saving(client: httpx.AsyncClient, technician: Member) -> None:
    first, second = await samples_in_library_prep(client, technician.password, 2)
    proposal = {
        "libraries": [
            {"name": "LIB-A", "kit": "SQK-NBD114.96", "barcode": "NB12", "sample_ids": [first["id"]]},
            {"name": "LIB-B", "kit": "SQK-NBD114.24", "barcode": "NB12", "sample_ids": [second["id"]]},
        ]
    }
    check = ok(await client.post(f"{SEQ}/pools/check", json=proposal))
    assert check["ok"] is False
    assert [problem["kind"] for problem in check["problems"]] == ["barcode_clash"]
    proposal["libraries"][1]["barcode"] = "NB13"
    assert ok(await client.post(f"{SEQ}/pools/check", json=proposal)) == {"ok": True, "problems": []}
    assert ok(await client.get(f"{SEQ}/libraries"))["items"] == []


async def test_a_library_records_its_kit_and_barcode_on_its_samples(
    client: httpx.AsyncClient, technician: Member
) -> None:
    (sample,) = await samples_in_library_prep(client, technician.password, 1)
    pool = ok(
        await client.post(
            f"{SEQ}/pools",
            json={
                "name": "POOL-1",
                "libraries": [
                    {"name": "LIB-A", "kit": "SQK-NBD114.24", "barcode": "NB07", "sample_ids": [sample["id"]]}
                ],
            },
        ),
        201,
    )
    assert [(library["name"], library["barcode"]) for library in pool["libraries"]] == [("LIB-A", "NB07")]
    now = ok(await client.get(f"{SAMPLES}/{sample['id']}"))
    assert (now["library_kit"], now["barcoding_kit"], now["library_barcode"]) == (
        "SQK-NBD114.24",
        "SQK-NBD114.24",
        "NB07",
    )
    steps = {step["name"]: step["status"] for step in ok(await client.get(f"{SAMPLES}/{sample['id']}/steps"))}
    assert steps["Library Preparation"] == "completed"
    events = [event["type"] for event in ok(await client.get(f"{SAMPLES}/{sample['id']}/events"))]
    assert events[-2:] == ["sample.updated", "sample.step_updated"]


async def test_a_library_of_a_sample_still_in_qc_is_refused_naming_it(
    client: httpx.AsyncClient, technician: Member
) -> None:
    sample = ok(await client.post(SAMPLES, json={"name": "Fresh tube", "sample_type": "hmw_dna"}), 201)
    response = await client.post(
        f"{SEQ}/libraries", json={"name": "LIB-A", "kit": "SQK-LSK114", "sample_ids": [sample["id"]]}
    )
    assert response.status_code == 409
    assert response.json()["samples"] == [
        {"sample_id": sample["id"], "human_id": sample["human_id"], "status": "submitted"}
    ]
