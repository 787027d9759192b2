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
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity import service as identity_service
from seqtrack.identity.actor import SYSTEM_TENANT_ID, Actor
from seqtrack.identity.errors import SlugTaken
from seqtrack.identity.permissions import Role
from seqtrack.platform.database import Database
from seqtrack.platform.models import utcnow
from seqtrack.samples import service
from seqtrack.samples.errors import AlreadyLoaded
from seqtrack.samples.lifecycle import SampleStatus
from seqtrack.samples.schemas import (
    Priority,
    QcIn,
    QcKind,
    SampleCreate,
    SampleType,
    SampleUpdate,
    StepStatus,
    StepUpdate,
)

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
# How far along the demo's samples are; the path each one walks to get there.
PATH = [
    SampleStatus.RECEIVED,
    SampleStatus.QC,
    SampleStatus.LIBRARY_PREP,
    SampleStatus.SEQUENCING,
    SampleStatus.ANALYSIS,
    SampleStatus.DELIVERED,
    SampleStatus.ARCHIVED,
]
STEPS_DONE_AT = {
    SampleStatus.QC: 0,
    SampleStatus.LIBRARY_PREP: 1,
    SampleStatus.SEQUENCING: 4,
    SampleStatus.ANALYSIS: 5,
    SampleStatus.DELIVERED: 8,
    SampleStatus.ARCHIVED: 8,
}


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

            async def account(role: Role, local: str, lab_ids: list[uuid.UUID] | None = None) -> uuid.UUID:
                email = f"{local}@{slug}.demo.seqtrack.example"
                password = secrets.token_urlsafe(15)
                user, _ = await identity_service.create_user(
                    session,
                    system,
                    email=email,
                    display_name=local,
                    password=password,
                    role=role,
                    lab_ids=lab_ids or [],
                )
                accounts.append(Account(email, role, password))
                return user.id

            await account(Role.MANAGER, "manager")
            await account(Role.AUDITOR, "auditor")
            technicians += [await account(Role.TECHNICIAN, f"technician{n}") for n in (1, 2)]
            for name, pi, organisms in LABS:
                created = await identity_service.create_lab(session, system, name=name)
                pi_id = await account(Role.SUBMITTER, pi.split()[-1].lower(), [created.id])
                labs.append(_Lab(created.id, name, pi, pi_id, organisms))
    except SlugTaken as exc:
        raise AlreadyLoaded(
            f"Tenant '{slug}' exists already; demo data goes into a new tenant only. Choose another --tenant."
        ) from exc
    actor = Actor.system(tenant.id, display="demo loader")
    for index in range(count):
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
            due_date=(utcnow() + timedelta(days=chance.randint(-5, 30))).date() if chance.random() < 0.4 else None,
            assigned_to=chance.choice(technicians),
        )
        async with database.write_session() as session:
            sample = await service.create_sample(session, actor, body)
            await _advance(session, actor, sample.id, chance)
    return DemoFacility(tenant.id, slug, count, accounts)


async def _advance(session: AsyncSession, actor: Actor, sample_id: uuid.UUID, chance: random.Random) -> None:
    roll = chance.random()
    if roll < 0.06:
        await _walk(session, actor, sample_id, [SampleStatus.CANCELLED], "submitter withdrew the sample")
        return
    depth = chance.randint(0, len(PATH))
    targets = PATH[:depth]
    for target in targets:
        if target is SampleStatus.QC:
            await _walk(session, actor, sample_id, [target], None)
            await _qc(session, actor, sample_id, chance)
            continue
        if target is SampleStatus.DELIVERED:
            sample = await service.get_sample(session, actor, sample_id)
            location = SampleUpdate(data_location=f"s3://facility-data/{sample.human_id.lower()}/")
            await service.update_sample(session, actor, sample_id, location, "*")
        if not await _walk(session, actor, sample_id, [target], None):
            break
    done = STEPS_DONE_AT.get(targets[-1], 0) if targets else 0
    for position in range(1, done + 1):
        await service.update_step(session, actor, sample_id, position, StepUpdate(status=StepStatus.COMPLETED))
    if targets and targets[-1] not in (SampleStatus.DELIVERED, SampleStatus.ARCHIVED):
        if chance.random() < 0.08:
            await _walk(session, actor, sample_id, [SampleStatus.ON_HOLD], "waiting for submitter's answer")
        elif chance.random() < 0.04:
            await _walk(session, actor, sample_id, [SampleStatus.FAILED], "library yield too low")
    elif targets and targets[-1] is SampleStatus.ARCHIVED and chance.random() < 0.3:
        await _walk(session, actor, sample_id, [SampleStatus.DISPOSED], "retention period over")


async def _qc(session: AsyncSession, actor: Actor, sample_id: uuid.UUID, chance: random.Random) -> None:
    for kind, low, high in ((QcKind.A260_280, 1.72, 2.05), (QcKind.A260_230, 1.9, 2.3), (QcKind.DIN, 6.5, 9.8)):
        await service.record_qc(
            session, actor, sample_id, QcIn(kind=kind, value=round(chance.uniform(low, high), 2), instrument="NanoDrop")
        )


async def _walk(
    session: AsyncSession, actor: Actor, sample_id: uuid.UUID, targets: list[SampleStatus], reason: str | None
) -> bool:
    for target in targets:
        if not await service.move_as_system(session, actor, sample_id, target, reason or "demo data"):
            return False
    return True
