"""The pipeline's XML reports: the AQUA report (per-stage and per-topic QA scores) and the manifest.

Layouts as the pipeline writes them::

    <PipelineAquaReport>
      <ProjectStructure> ProposalCode, OusStatusEntityId, ProcessingRequestEntityId, ProcessingProcedure
      <QaSummary> ReportDate, ProcessingTime, CasaVersion, PipelineVersion, FinalScore
      <QaPerStage> <Stage Number Name Score> <Metric Name Value Asdm QaScore Reason/> ...
      <QaPerTopic> <Dataset Score> <Stage .../> </Dataset> <Flagging/> <Calibration/> <Imaging/>
      <QaPerEB/>? (not written)

    <piperesults name="...">
      <ous name="<OUS>"> <casaversion/> <pipeline_version/> <procedure/>
        <session name="session_1"> <caltables/> <auxcaltables/> <asdm name="<EB>"> <finalflags/> <applycmds/> ...
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

from .project import PIPELINE_VERSION, PROJECT, RECIPE, processing_time, uid_url
from .stages import Stage


def _pretty(root: ET.Element) -> str:
    ET.indent(root, space="  ")
    return '<?xml version="1.0" ?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _stage_el(s: Stage) -> ET.Element:
    el = ET.Element("Stage", Number=str(s.number), Name=s.task, Score=f"{s.score:.2f}")
    for m in s.metrics:
        ET.SubElement(el, "Metric", Name=m.name, Value=m.value, Asdm=m.asdm, QaScore=f"{m.score:.2f}", Reason=m.reason)
    return el


def aqua_xml(stages: list[Stage], *, mous: str, casa_version: str, duration_s: float, recipe: str = RECIPE) -> str:
    """The AQUA report text.

    Examples
    --------
    >>> from almaview.demo.stages import Stage, Metric
    >>> s = Stage(1, "hifa_importdata", "Register", "Dataset", [Metric("M", "0", 1.0, "fine")])
    >>> text = aqua_xml([s], mous="uid___A001_X1_X2", casa_version="6.7.0", duration_s=60)
    >>> '<Stage Number="1" Name="hifa_importdata" Score="1.00">' in text
    True
    """
    root = ET.Element("PipelineAquaReport")
    ps = ET.SubElement(root, "ProjectStructure")
    ET.SubElement(ps, "ProposalCode").text = PROJECT
    ET.SubElement(ps, "OusStatusEntityId").text = uid_url(mous)
    ET.SubElement(ps, "ProcessingRequestEntityId").text = "Undefined"
    ET.SubElement(ps, "ProcessingProcedure").text = recipe
    qs = ET.SubElement(root, "QaSummary")
    ET.SubElement(qs, "ReportDate").text = processing_time(duration_s).strftime("%Y-%m-%d %H:%M:%S")
    ET.SubElement(qs, "ProcessingTime").text = str(timedelta(seconds=round(duration_s)))
    ET.SubElement(qs, "CasaVersion").text = casa_version
    ET.SubElement(qs, "PipelineVersion").text = PIPELINE_VERSION
    ET.SubElement(qs, "FinalScore").text = f"{min(s.score for s in stages):.2f}"
    per_stage = ET.SubElement(root, "QaPerStage")
    for s in stages:
        per_stage.append(_stage_el(s))
    topics = ET.SubElement(root, "QaPerTopic")
    for topic in ("Dataset", "Flagging", "Calibration", "Imaging"):
        members = [s for s in stages if s.topic == topic]
        t = ET.SubElement(topics, topic, Score=f"{min((s.score for s in members), default=1.0):.2f}")
        for s in members:
            t.append(_stage_el(s))
    return _pretty(root)


def manifest_xml(
    *, mous: str, sessions: list[dict], casa_version: str, files: dict[str, list[str]], recipe: str = RECIPE
) -> str:
    """The pipeline manifest text. ``sessions``: dicts with 'name', 'eb', 'caltables', 'auxcaltables',
    'flagversions', 'calapply', 'flagtemplates'; ``files``: element name -> file names at OUS level.

    Examples
    --------
    >>> text = manifest_xml(mous="uid___A001_X1_X2", casa_version="6.7.0", files={"weblog": ["w.tgz"]},
    ...     sessions=[dict(name="session_1", eb="uid___A002_X3_X4", caltables="c.tgz", auxcaltables="a.tgz",
    ...                    flagversions="f.tgz", calapply="x.txt", flagtemplates=[])])
    >>> '<asdm name="uid___A002_X3_X4">' in text
    True
    """
    root = ET.Element("piperesults", name=f"{PROJECT}_{mous}")
    ous = ET.SubElement(root, "ous", name=mous)
    ET.SubElement(ous, "casaversion", name=casa_version)
    ET.SubElement(ous, "pipeline_version", name=PIPELINE_VERSION)
    ET.SubElement(ous, "procedure", name=recipe)
    for s in sessions:
        sess = ET.SubElement(ous, "session", name=s["name"])
        ET.SubElement(sess, "caltables", name=s["caltables"])
        ET.SubElement(sess, "auxcaltables", name=s["auxcaltables"])
        asdm = ET.SubElement(sess, "asdm", name=s["eb"])
        ET.SubElement(asdm, "finalflags", name=s["flagversions"])
        ET.SubElement(asdm, "applycmds", name=s["calapply"])
        for ft in s["flagtemplates"]:
            ET.SubElement(asdm, "flagtemplate", name=ft)
    for element, names in files.items():
        for name in names:
            ET.SubElement(ous, element, name=name)
    return _pretty(root)
