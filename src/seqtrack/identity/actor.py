"""Moved to :mod:`seqtrack.platform.actor` so that platform and events need not import identity.

Kept as an alias for code written against the old path; new code imports from platform.
"""

from seqtrack.platform.actor import SYSTEM_TENANT_ID, Actor, ActorKind

__all__ = ["SYSTEM_TENANT_ID", "Actor", "ActorKind"]
