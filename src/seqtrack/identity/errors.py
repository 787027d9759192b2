"""What can go wrong in identity, free of HTTP."""

from __future__ import annotations

from seqtrack.platform.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleViolation, Unauthenticated


class LoginFailed(Unauthenticated, code="auth.login_failed", title="Log-in failed"):
    """One answer for unknown e-mail, wrong password, disabled and locked accounts alike."""

    def __init__(self) -> None:
        super().__init__(
            "Wrong e-mail or password, or the account is disabled or temporarily locked after repeated failures."
        )


class InvalidToken(Unauthenticated, code="auth.invalid_token", title="Invalid credentials"): ...


class CsrfRejected(Forbidden, code="auth.csrf_rejected", title="CSRF check failed"): ...


class WeakPassword(InvalidInput, code="identity.weak_password"): ...


class TenantNotFound(NotFound, code="identity.tenant_not_found"): ...


class UserNotFound(NotFound, code="identity.user_not_found"): ...


class LabNotFound(NotFound, code="identity.lab_not_found"): ...


class ApiKeyNotFound(NotFound, code="identity.api_key_not_found"): ...


class EmailTaken(Conflict, code="identity.email_taken"): ...


class SlugTaken(Conflict, code="identity.slug_taken"): ...


class LabNameTaken(Conflict, code="identity.lab_name_taken"): ...


class LastAdministrator(Conflict, code="identity.last_administrator"): ...


class PermissionNotHeld(RuleViolation, code="identity.permission_not_held"):
    """An API key may only carry permissions its owner holds."""


class ProfileNotYours(Forbidden, code="identity.profile_not_yours"):
    """An account that belongs to other facilities too: only its owner changes its name or e-mail."""


class WrongPassword(Forbidden, code="auth.wrong_password"): ...


class ResetLinkInvalid(InvalidInput, code="identity.reset_link_invalid", title="Password reset link not valid"):
    """One answer for a link that is unknown, used, expired or of an account that may no longer sign in."""
