"""Moved to :mod:`seqtrack.platform.permissions` beside :class:`~seqtrack.platform.actor.Actor`.

Kept as an alias for code written against the old path; new code imports from platform.
"""

from seqtrack.platform.permissions import ROLE_PERMISSIONS, Permission, Role, api_key_permissions, permissions_for

__all__ = ["ROLE_PERMISSIONS", "Permission", "Role", "api_key_permissions", "permissions_for"]
