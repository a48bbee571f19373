"""QA re-derived: judge a delivery on ALMA's QA2 criteria from its own data, with evidence.

Examples
--------
>>> import almaview as av
>>> report = av.qa.check(av.open_delivery("2023.1.01234.S"))    # doctest: +SKIP
>>> report                                                       # doctest: +SKIP
>>> report.to_markdown("qa3-request.md")                         # doctest: +SKIP
"""

from __future__ import annotations

from .check import check, check_eb, check_mous, execution_block
from .limits import Limits
from .report import CRITERIA, VERDICTS, Evidence, Finding, QAReport

__all__ = [
    "check",
    "check_eb",
    "check_mous",
    "execution_block",
    "Limits",
    "QAReport",
    "Finding",
    "Evidence",
    "CRITERIA",
    "VERDICTS",
]
