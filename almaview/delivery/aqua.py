"""The pipeline AQUA report (``*pipeline_aquareport.xml``): per-topic and per-stage QA scores.

Layout (element names vary between pipeline versions, so local names are
matched case-insensitively and namespaces ignored)::

    <PipelineAquaReport>
      <ProjectStructure><ProposalCode/><ProcessingProcedure/></ProjectStructure>
      <QaSummary><CasaVersion/><PipelineVersion/><FinalScore/></QaSummary>
      <QaPerStage>
        <Stage Number="3" Name="hifa_importdata" Score="1.0">
          <Metric Name="..." Value="..." QaScore="..." Asdm="..." Reason="..."/>
        </Stage>
      </QaPerStage>
      <QaPerTopic>
        <Dataset Score="1.0"><Stage .../></Dataset> <Flagging/> <Calibration/> <Imaging/>
      </QaPerTopic>
    </PipelineAquaReport>
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

from ..errors import DamagedArchive
from .model import AquaReport, QAMetric, QAStage, QATopic


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _attr(el: ET.Element, *names: str) -> str | None:
    low = {k.rsplit("}", 1)[-1].lower(): v for k, v in el.attrib.items()}
    for n in names:
        if n.lower() in low:
            return low[n.lower()]
    for child in el:
        if _local(child.tag) in [n.lower() for n in names] and (child.text or "").strip():
            return child.text.strip()
    return None


def _score(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None  # 'Undefined'


def _find(el: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in el.iter() if _local(c.tag) == name.lower()), None)


def _stage(el: ET.Element) -> QAStage:
    metrics = []
    for m in el:
        if _local(m.tag) in ("metric", "qametric", "score", "qascore"):
            metrics.append(
                QAMetric(
                    name=_attr(m, "Name", "MetricName") or _local(m.tag),
                    value=_attr(m, "Value", "MetricValue"),
                    score=_score(_attr(m, "QaScore", "Score")),
                    asdm=_attr(m, "Asdm", "Vis", "MS"),
                    reason=_attr(m, "Reason", "LongMsg", "Message", "ShortMsg"),
                    attrs={k.rsplit("}", 1)[-1]: v for k, v in m.attrib.items()},
                )
            )
    number = _attr(el, "Number", "StageNumber", "Id")
    try:
        num = int(number) if number is not None else None
    except ValueError:
        num = None
    reason = _attr(el, "Reason", "ShortMsg", "LongMsg")
    if reason is None and metrics:
        worst = min((m for m in metrics if m.score is not None), key=lambda m: m.score, default=None)
        reason = worst.reason if worst else None
    return QAStage(
        number=num,
        name=_attr(el, "Name", "Task", "TaskName") or "",
        score=_score(_attr(el, "Score")),
        reason=reason,
        metrics=metrics,
    )


def parse_aqua(data: bytes | str, path: str | os.PathLike = "") -> AquaReport:
    """Parse an AQUA report's bytes.

    Examples
    --------
    >>> xml = ('<PipelineAquaReport><QaSummary><CasaVersion>6.5.4</CasaVersion></QaSummary>'
    ...        '<QaPerStage><Stage Number="2" Name="hifa_importdata" Score="0.8"/></QaPerStage>'
    ...        '<QaPerTopic><Calibration Score="0.9"/></QaPerTopic></PipelineAquaReport>')
    >>> r = parse_aqua(xml)
    >>> r.casa_version, r.stages[0].number, r.stages[0].score, r.topics[0].name
    ('6.5.4', 2, 0.8, 'Calibration')
    """
    try:
        root = ET.fromstring(data)
    except ET.ParseError as err:
        raise DamagedArchive(path, f"the AQUA report is not well-formed XML ({err}); it may be truncated") from err
    rep = AquaReport(path=os.fspath(path))
    ps = _find(root, "ProjectStructure")
    if ps is not None:
        rep.proposal_code = _attr(ps, "ProposalCode")
        rep.processing_procedure = _attr(ps, "ProcessingProcedure")
    qs = _find(root, "QaSummary")
    if qs is not None:
        rep.casa_version = _attr(qs, "CasaVersion")
        rep.pipeline_version = _attr(qs, "PipelineVersion")
        rep.final_score = _score(_attr(qs, "FinalScore"))
    per_stage = _find(root, "QaPerStage")
    if per_stage is not None:
        rep.stages = [_stage(s) for s in per_stage if _local(s.tag) == "stage"]
    per_topic = _find(root, "QaPerTopic")
    if per_topic is not None:
        for t in per_topic:
            stages = [_stage(s) for s in t.iter() if _local(s.tag) == "stage"]
            rep.topics.append(QATopic(name=t.tag.rsplit("}", 1)[-1], score=_score(_attr(t, "Score")), stages=stages))
    return rep
