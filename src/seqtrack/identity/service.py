"""Identity use cases, one module a concern; other packages call them through here.

- ``accounts``: what an account is now (active, locked, its security version) and who a log-in attempt claims to be;
- ``tenants``: facilities;
- ``users``: members, their roles, one's own profile, and who may read a notification;
- ``labs``: labs and who belongs to them;
- ``credentials``: password checks with lockout, signatures, password and e-mail changes;
- ``api_keys``: machine credentials.

Every change goes through the write path (``events.recorder.record``), so
security events land in the same hash-chained audit trail as sample changes.
"""

from seqtrack.identity.accounts import (
    DISPLAY_LIMIT,
    LOGIN_ATTEMPT_NAMESPACE,
    SLUG,
    LockoutPolicy,
    attempt_actor,
    attempt_aggregate_id,
    bump_security_version,
    is_active_member,
    is_locked,
    settings_of,
    user_actor,
)
from seqtrack.identity.api_keys import create_api_key, list_api_keys, revoke_api_key
from seqtrack.identity.credentials import (
    change_own_profile,
    change_password,
    check_signature,
    count_failed_password,
    record_login_refused,
    record_refused_while_locked,
)
from seqtrack.identity.labs import create_lab, display_names, get_lab, lab_ids_of_user, list_labs, set_labs, update_lab
from seqtrack.identity.tenants import (
    check_slug,
    create_tenant,
    get_tenant,
    tenant_by_slug,
    tenants_of_user,
    update_tenant,
)
from seqtrack.identity.users import (
    Reader,
    add_user,
    create_user,
    email_of,
    get_member,
    grant_role,
    list_members,
    may_rename,
    own_address,
    own_profile,
    readers,
    update_member,
)

__all__ = [
    "DISPLAY_LIMIT",
    "LOGIN_ATTEMPT_NAMESPACE",
    "SLUG",
    "LockoutPolicy",
    "Reader",
    "add_user",
    "attempt_actor",
    "attempt_aggregate_id",
    "bump_security_version",
    "change_own_profile",
    "change_password",
    "check_signature",
    "check_slug",
    "count_failed_password",
    "create_api_key",
    "create_lab",
    "create_tenant",
    "create_user",
    "display_names",
    "email_of",
    "get_lab",
    "get_member",
    "get_tenant",
    "grant_role",
    "is_active_member",
    "is_locked",
    "lab_ids_of_user",
    "list_api_keys",
    "list_labs",
    "list_members",
    "may_rename",
    "own_address",
    "own_profile",
    "readers",
    "record_login_refused",
    "record_refused_while_locked",
    "revoke_api_key",
    "set_labs",
    "settings_of",
    "tenant_by_slug",
    "tenants_of_user",
    "update_lab",
    "update_member",
    "update_tenant",
    "user_actor",
]
