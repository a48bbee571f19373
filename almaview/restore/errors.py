"""Errors of the restore step: they live in :mod:`almaview.errors` (one home); re-exported here."""

from __future__ import annotations

from ..errors import RestoreError, RestoreFailed, RestoreNotReady, RestoreStopped, VerificationFailed

__all__ = ["RestoreError", "RestoreFailed", "RestoreNotReady", "RestoreStopped", "VerificationFailed"]
