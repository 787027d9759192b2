"""What the storage domain refuses, free of HTTP."""

from __future__ import annotations

from seqtrack.platform.errors import Conflict, InvalidInput, NotFound, PreconditionFailed, RuleViolation


class UnitNotFound(NotFound, code="storage.unit_not_found", title="Storage unit not found"): ...


class ContainerNotFound(NotFound, code="storage.container_not_found", title="Container not found"): ...


class ReservationNotFound(NotFound, code="storage.reservation_not_found", title="Reservation not found"): ...


class NotStored(NotFound, code="storage.not_stored", title="Sample is not in storage"): ...


class CodeNotFound(NotFound, code="storage.code_not_found", title="Nothing has this code"): ...


class PositionOccupied(Conflict, code="storage.position_occupied", title="Position already holds something"): ...


class AlreadyStored(Conflict, code="storage.already_stored", title="Sample already has a position"): ...


class NotEnoughSpace(Conflict, code="storage.not_enough_space", title="Not enough free positions"): ...


class WrongPlacementState(
    Conflict, code="storage.wrong_state", title="Not possible in the position's current state"
): ...


class PlacementChanged(PreconditionFailed, code="storage.changed", title="Storage changed since it was read"): ...


class ZoneRuleViolated(
    RuleViolation, code="storage.zone_rule", title="Sample type not allowed in this temperature zone"
): ...


class InvalidStorageInput(InvalidInput, code="storage.invalid_input"): ...


class InvalidRackScan(InvalidInput, code="storage.invalid_rack_scan"): ...


class SampleUnknown(NotFound, code="storage.sample_not_found", title="Sample not found"): ...


class SampleGone(Conflict, code="storage.sample_disposed", title="Sample has been disposed"): ...
