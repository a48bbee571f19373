"""The pipeline's QA as the delivery model holds it: score bands as the weblog colours them, AQUA metrics, stages
and topics (:mod:`almaview.delivery.aqua` fills them; :mod:`almaview.delivery.model` re-exports them).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as _field


# ---------------------------------------------------------------- QA score bands

#: (lower bound, band, colour, weblog CSS class); the pipeline's documented ranges:
#: score <= 0.33 error, 0.33 < score <= 0.66 warning, 0.66 < score <= 0.90 below standard, > 0.90 good.
SCORE_BANDS = (
    (0.90, "good", "green", "#5cb85c"),
    (0.66, "below standard", "blue", "#5bc0de"),
    (0.33, "warning", "yellow", "#f0ad4e"),
)


def score_band(score: float | None) -> tuple[str, str, str]:
    """Return (band, colour name, hex colour) for a pipeline QA score, as the weblog colours it.

    Examples
    --------
    >>> score_band(1.0)[:2], score_band(0.8)[:2], score_band(0.5)[:2], score_band(0.1)[:2]
    (('good', 'green'), ('below standard', 'blue'), ('warning', 'yellow'), ('error', 'red'))
    >>> score_band(None)[:2]
    ('unknown', 'grey')
    """
    if score is None:
        return ("unknown", "grey", "#999999")
    for lower, band, colour, hexcol in SCORE_BANDS:
        if score > lower:
            return (band, colour, hexcol)
    return ("error", "red", "#d9534f")


# ---------------------------------------------------------------- QA


@dataclass
class QAMetric:
    """One metric of an AQUA stage: name, value, score and reason."""

    name: str
    value: str | None
    score: float | None
    asdm: str | None = None
    reason: str | None = None
    attrs: dict[str, str] = _field(default_factory=dict)


class Scored:
    """``band`` and ``colour`` of a QA ``score`` in the weblog's colour bands (see :func:`score_band`)."""

    score: float | None

    @property
    def band(self) -> str:
        return score_band(self.score)[0]

    @property
    def colour(self) -> str:
        return score_band(self.score)[1]


@dataclass
class QAStage(Scored):
    """A pipeline stage's QA score (from the AQUA report or the weblog)."""

    number: int | None
    name: str
    score: float | None
    reason: str | None = None
    metrics: list[QAMetric] = _field(default_factory=list)


@dataclass
class QATopic(Scored):
    """An AQUA topic score (Dataset, Flagging, Calibration, Imaging...)."""

    name: str
    score: float | None
    stages: list[QAStage] = _field(default_factory=list)


@dataclass
class AquaReport:
    """The pipeline's AQUA report (``*pipeline_aquareport.xml``)."""

    path: str
    proposal_code: str | None = None
    processing_procedure: str | None = None
    casa_version: str | None = None
    pipeline_version: str | None = None
    final_score: float | None = None
    topics: list[QATopic] = _field(default_factory=list)
    stages: list[QAStage] = _field(default_factory=list)
