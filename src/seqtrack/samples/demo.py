"""``seqtrack demo load``: a living facility for a newcomer to look at.

A new tenant with labs and staff accounts is created through the identity
service (each account gets a random password, printed once), then samples go
through the real samples service, so events, audit entries and the hash chain
are all genuine.
"""

from __future__ import annotations

import random
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity import service as identity_service
from seqtrack.identity.errors import SlugTaken
from seqtrack.platform.actor import SYSTEM_TENANT_ID, Actor
from seqtrack.platform.database import Database
from seqtrack.platform.models import as_if_at, utcnow
from seqtrack.platform.permissions import Role
from seqtrack.samples import service
from seqtrack.samples.errors import AlreadyLoaded
from seqtrack.samples.lifecycle import SampleStatus
from seqtrack.samples.schemas import Priority, QcIn, QcKind, SampleCreate, SampleType, SampleUpdate

LABS = [
    ("Microbial Genomics", "Dr. Ada Okafor", ["Escherichia coli", "Klebsiella pneumoniae", "Pseudomonas aeruginosa"]),
    ("Plant Biology", "Dr. Lena Haugen", ["Arabidopsis thaliana", "Solanum lycopersicum", "Zea mays"]),
    ("Human Genetics", "Dr. Ravi Menon", ["Homo sapiens"]),
    ("Virology", "Dr. Mei Tanaka", ["SARS-CoV-2", "Influenza A virus"]),
]
GENOME_SIZES = {
    "Escherichia coli": 4_600_000,
    "Klebsiella pneumoniae": 5_500_000,
    "Pseudomonas aeruginosa": 6_300_000,
    "Arabidopsis thaliana": 135_000_000,
    "Solanum lycopersicum": 900_000_000,
    "Zea mays": 2_300_000_000,
    "Homo sapiens": 3_100_000_000,
    "SARS-CoV-2": 30_000,
    "Influenza A virus": 13_500,
}
# Staff whose display names match their accounts (the e-mail is made from the name).
STAFF = [
    (Role.MANAGER, "Sam Rivera"),
    (Role.AUDITOR, "Noor Haddad"),
    (Role.TECHNICIAN, "Kim Larsen"),
    (Role.TECHNICIAN, "Tomás Ortega"),
]
# The path a tube walks, how long each move usually follows the previous one (hours), and what the
# person making the move wrote down.
PATH: list[tuple[SampleStatus, tuple[float, float], list[str]]] = [
    (SampleStatus.RECEIVED, (6, 72), ["Arrived on dry ice, tube intact", "Hand-delivered by the lab", "Courier drop"]),
    (SampleStatus.QC, (2, 30), ["Queued for Qubit and NanoDrop", "QC batch of the morning"]),
    (
        SampleStatus.LIBRARY_PREP,
        (4, 48),
        ["QC passed; starting the ligation prep", "QC passed; barcoding with the kit"],
    ),
    (SampleStatus.SEQUENCING, (6, 30), ["Library loaded on the PromethION", "Flow cell primed and loaded"]),
    (
        SampleStatus.ANALYSIS,
        (48, 80),
        ["Run finished; basecalling with the sup model", "Run complete, N50 as expected"],
    ),
    (SampleStatus.DELIVERED, (6, 36), ["FASTQ and BAM uploaded to the lab's share", "Data and QC report sent"]),
    (SampleStatus.ARCHIVED, (24 * 7, 24 * 21), ["Submitter confirmed receipt of the data"]),
]
HISTORY_DAYS = 63
HOLD_REASONS = [
    "Waiting for the submitter to confirm the genome size",
    "Concentration borderline; asked the lab for more material",
    "Billing code missing; asked the PI",
]
FAIL_REASONS = ["Library yield too low (under 10 fmol)", "Flow cell had too few active pores; no material left"]
CANCEL_REASONS = ["Submitter withdrew the sample", "Duplicate submission; the lab sent a second tube"]
DISPOSE_REASONS = ["Retention period over", "Remaining material returned to the lab"]


@dataclass(frozen=True)
class Account:
    email: str
    role: Role
    password: str


@dataclass(frozen=True)
class DemoFacility:
    tenant_id: uuid.UUID
    slug: str
    samples: int
    accounts: list[Account]


@dataclass(frozen=True)
class _Lab:
    id: uuid.UUID
    name: str
    pi: str
    pi_id: uuid.UUID
    organisms: list[str]


async def load(database: Database, slug: str, count: int, seed: int = 7) -> DemoFacility:
    """A new tenant ``slug`` with labs, staff and ``count`` samples spread over every state."""
    chance = random.Random(seed)
    accounts: list[Account] = []
    labs: list[_Lab] = []
    technicians: list[uuid.UUID] = []
    try:
        async with database.write_session() as session:
            tenant = await identity_service.create_tenant(
                session, slug, f"{slug.title()} Sequencing Facility", Actor.system(SYSTEM_TENANT_ID)
            )
            system = Actor.system(tenant.id, display="demo loader")

            async def account(role: Role, name: str, lab_ids: list[uuid.UUID] | None = None) -> uuid.UUID:
                email = f"{_local_part(name)}@{slug}.demo.seqtrack.example"
                password = secrets.token_urlsafe(15)
                user, _ = await identity_service.create_user(
                    session,
                    system,
                    email=email,
                    display_name=name,
                    password=password,
                    role=role,
                    lab_ids=lab_ids or [],
                )
                accounts.append(Account(email, role, password))
                return user.id

            for role, name in STAFF:
                person = await account(role, name)
                if role is Role.TECHNICIAN:
                    technicians.append(person)
            for name, pi, organisms in LABS:
                created = await identity_service.create_lab(session, system, name=name)
                pi_id = await account(Role.SUBMITTER, pi, [created.id])
                labs.append(_Lab(created.id, name, pi, pi_id, organisms))
    except SlugTaken as exc:
        raise AlreadyLoaded(
            f"Tenant '{slug}' exists already; demo data goes into a new tenant only. Choose another --tenant."
        ) from exc
    actor = Actor.system(tenant.id, display="demo loader")
    now = utcnow()
    # Submissions spread over the last weeks, oldest first, so IDs grow with time.
    submitted = sorted(now - timedelta(days=chance.uniform(0.2, HISTORY_DAYS)) for _ in range(count))
    for index, created_at in enumerate(submitted):
        lab = chance.choice(labs)
        organism = chance.choice(lab.organisms)
        rna = organism.endswith("virus") and chance.random() < 0.5
        body = SampleCreate(
            name=f"{organism.split()[0][:4].upper()}-{index + 1:04d}",
            sample_type=SampleType.TOTAL_RNA if rna else chance.choice([SampleType.GENOMIC_DNA, SampleType.HMW_DNA]),
            barcode=f"TUBE{chance.randrange(10**8):08d}{index:04d}",
            lab_id=lab.id,
            project=f"{lab.name} {chance.choice(['pilot', 'cohort A', 'resequencing', 'assembly'])}",
            submitter_id=lab.pi_id,
            submitter_name=lab.pi,
            organism=organism,
            genome_size_bp=GENOME_SIZES[organism],
            concentration_ng_ul=round(chance.uniform(8, 180), 1),
            volume_ul=round(chance.uniform(15, 60), 1),
            buffer=chance.choice(["EB", "TE", "nuclease-free water"]),
            flow_cell_type=chance.choice(["FLO-MIN114", "FLO-PRO114M", "FLO-FLG114"]),
            flow_cell_count=1,
            library_kit=chance.choice(["SQK-LSK114", "SQK-NBD114.24", "SQK-RBK114.96"]),
            basecalling_model="dna_r10.4.1_e8.2_400bps_sup@v5.0.0",
            priority=chance.choices(list(Priority), weights=[2, 10, 3, 1])[0],
            due_date=(created_at + timedelta(days=chance.randint(10, 40))).date() if chance.random() < 0.4 else None,
            assigned_to=chance.choice(technicians),
        )
        async with database.write_session() as session:
            with as_if_at(created_at):
                sample = await service.create_sample(session, actor, body)
            await _advance(session, actor, sample.id, created_at, now, chance)
    return DemoFacility(tenant.id, slug, count, accounts)


def _local_part(name: str) -> str:
    words = [word for word in name.replace("Dr. ", "").lower().split() if word.isascii()] or ["staff"]
    return ".".join(words)


async def _advance(
    session: AsyncSession,
    actor: Actor,
    sample_id: uuid.UUID,
    at: datetime,
    now: datetime,
    chance: random.Random,
) -> None:
    """Walk the sample as far as the time since its submission allows, with the odd hold, failure or withdrawal."""
    if chance.random() < 0.05:
        await _move(
            session, actor, sample_id, SampleStatus.CANCELLED, at + timedelta(hours=2), chance.choice(CANCEL_REASONS)
        )
        return
    reached: SampleStatus | None = None
    for target, (fewest, most), reasons in PATH:
        next_at = at + timedelta(hours=chance.uniform(fewest, most))
        if next_at >= now:
            break
        at = next_at
        if target is SampleStatus.DELIVERED:
            with as_if_at(at - timedelta(minutes=20)):
                sample = await service.get_sample(session, actor, sample_id)
                location = SampleUpdate(data_location=f"s3://facility-data/{sample.human_id.lower()}/")
                await service.update_sample(session, actor, sample_id, location, "*")
        if not await _move(session, actor, sample_id, target, at, chance.choice(reasons)):
            break
        reached = target
        if target is SampleStatus.QC:
            with as_if_at(at + timedelta(hours=1)):
                await _qc(session, actor, sample_id, chance)
    later = min(at + timedelta(hours=chance.uniform(2, 24)), now)
    if reached in (SampleStatus.RECEIVED, SampleStatus.QC, SampleStatus.LIBRARY_PREP, SampleStatus.SEQUENCING):
        if chance.random() < 0.08:
            await _move(session, actor, sample_id, SampleStatus.ON_HOLD, later, chance.choice(HOLD_REASONS))
        elif chance.random() < 0.04:
            await _move(session, actor, sample_id, SampleStatus.FAILED, later, chance.choice(FAIL_REASONS))
    elif reached is SampleStatus.ARCHIVED and chance.random() < 0.3:
        await _move(session, actor, sample_id, SampleStatus.DISPOSED, later, chance.choice(DISPOSE_REASONS))


async def _qc(session: AsyncSession, actor: Actor, sample_id: uuid.UUID, chance: random.Random) -> None:
    for kind, low, high in ((QcKind.A260_280, 1.72, 2.05), (QcKind.A260_230, 1.9, 2.3), (QcKind.DIN, 6.5, 9.8)):
        await service.record_qc(
            session, actor, sample_id, QcIn(kind=kind, value=round(chance.uniform(low, high), 2), instrument="NanoDrop")
        )


async def _move(
    session: AsyncSession, actor: Actor, sample_id: uuid.UUID, target: SampleStatus, at: datetime, reason: str
) -> bool:
    with as_if_at(at):
        return await service.move_as_system(session, actor, sample_id, target, reason)
