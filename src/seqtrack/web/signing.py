"""The form of a lifecycle move that may be signed: why, and the password and meaning of a signature."""

from __future__ import annotations

from pydantic import BaseModel, Field

from seqtrack.identity.actor import Actor
from seqtrack.platform.database import Database
from seqtrack.samples import service as samples_service
from seqtrack.samples.schemas import SignatureIn, SignatureMeaning


class SignedMove(BaseModel):
    """What every move form sends besides its target; a page's model adds ``to`` in its own lifecycle's states."""

    reason: str = Field("", max_length=2000)
    password: str = Field("", max_length=1000)
    meaning: SignatureMeaning | None = None

    @property
    def why(self) -> str | None:
        return self.reason.strip() or None

    async def signature(self, database: Database, actor: Actor) -> samples_service.PresentedSignature | None:
        """The signature as presented, its password checked; ``None`` when the form carries none."""
        # The password is checked (argon2) before any unit of work opens, as the API does.
        if not self.password and self.meaning is None:
            return None
        signature = SignatureIn(password=self.password or None, meaning=self.meaning)
        return await samples_service.present_signature(database, actor, signature)
