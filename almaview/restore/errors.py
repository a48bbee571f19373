"""Errors of the restore step (subclasses of :class:`almaview.errors.AlmaviewError`)."""

from __future__ import annotations

from ..errors import AlmaviewError


class RestoreError(AlmaviewError):
    """Restoring calibrated data failed or cannot start."""


class RestoreNotReady(RestoreError):
    """No EB of the plan can be restored (raw data, CASA or disk missing); the plan says what is needed."""


class RestoreFailed(RestoreError):
    """CASA failed while restoring an EB; the message names the EB, the step and the log to send to the helpdesk."""


class RestoreStopped(RestoreError):
    """The run was stopped by the user; EBs already verified are kept and the plan can be run again."""


class VerificationFailed(RestoreError):
    """A restored MS did not pass verification (missing columns, or calibrator fluxes off flux.csv)."""
