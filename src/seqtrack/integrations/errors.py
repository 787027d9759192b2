from __future__ import annotations

from seqtrack.platform.errors import NotFound, RuleViolation


class DestinationRefused(RuleViolation, code="webhook.destination_refused"): ...


class WebhookNotFound(NotFound, code="webhook.not_found"): ...


class DeliveryNotFound(NotFound, code="webhook.delivery_not_found"): ...
