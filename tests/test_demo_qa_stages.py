"""The demo's QA reasons belong to their stages (issue 14): each AQUA metric sits under the stage of the pipeline task
that measures it, and the stage numbers agree with the caltable names the same stages wrote (``.s<N>_``)."""

from __future__ import annotations

import re
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

#: the pipeline task that measures each metric the demo writes (the ALMA pipeline's task of that QA)
TASK_OF_METRIC = {
    "MissingIntents": ("hifa_importdata", "hsd_importdata"),  # interferometric or single-dish pipeline
    "%HighestFlagged": "hifa_flagdata",
    "NumFlaggedChannels": "hif_rawflagchans",
    "RefAnt": "hif_refant",
    "TsysMedian": "h_tsyscal",
    "NumTsysFlagged": "hifa_tsysflag",
    "NumCorrectedAntennas": "hifa_antpos",
    "FluxSNR": "hifa_gfluxscale",
    "PhaseRms": "hifa_timegaincal",
    "BeamRatio": "hifa_imageprecheck",
    "ContinuumRanges": "hif_findcont",
    "RmsRatio": "hif_makeimages",
}
#: the words of each metric's reason
REASON_WORDS = {
    "RefAnt": "Reference antenna",
    "NumCorrectedAntennas": "orrections",
    "FluxSNR": "Jy",
    "PhaseRms": "phase rms",
    "TsysMedian": "Tsys",
}


def test_demo_aqua_reasons_sit_under_the_task_that_measures_them(demo_delivery):
    reports = sorted(demo_delivery.rglob("*pipeline_aquareport.xml"))
    assert reports, "the demo has no AQUA report"
    seen, compared = set(), set()
    for path in reports:
        root = ET.parse(path).getroot()
        stages = {int(s.get("Number")): s for s in root.iter("Stage")}
        for number, stage in stages.items():
            for metric in stage.iter("Metric"):
                name, reason = metric.get("Name"), metric.get("Reason")
                want = TASK_OF_METRIC.get(name)
                if want is None:
                    continue
                seen.add(name)
                assert stage.get("Name") in ((want,) if isinstance(want, str) else want), (
                    f"{path.name}: {name} ({reason!r}) under stage {number} {stage.get('Name')}"
                )
                if name in REASON_WORDS:
                    assert REASON_WORDS[name] in reason, (name, reason)
        if not path.name.endswith(".hsd_calimage.pipeline_aquareport.xml"):  # TP: see the xfail test below
            mismatches, checked = _caltable_stage_mismatches(path)
            assert not mismatches, mismatches
            compared |= checked
    assert {"RefAnt", "NumCorrectedAntennas", "FluxSNR", "PhaseRms"} <= seen, seen
    assert {"h_tsyscal", "hifa_bandpass", "hifa_timegaincal"} <= compared, compared


def _caltable_stage_mismatches(aqua_path):
    """The caltables a stage wrote carry its number (``.<task>.s<N>_``): (task, numbers in the names, AQUA number)
    where they differ, and the tasks compared."""
    root = ET.parse(aqua_path).getroot()
    numbers = {st.get("Name"): int(st.get("Number")) for st in root.iter("Stage")}
    member = aqua_path.parents[1]
    names = []  # the caltable names: calapply.txt lines and the caltable archives' member names (listed only)
    for f in sorted((member / "calibration").glob("*")):
        if f.name.endswith("calapply.txt"):
            names += f.read_text().split()
        elif f.name.endswith(".tgz"):
            with tarfile.open(f) as tar:
                names += tar.getnames()
    mismatches, compared = [], set()
    for task in ("h_tsyscal", "hifa_antpos", "hifa_bandpass", "hifa_gfluxscale", "hifa_timegaincal", "hsd_skycal"):
        written = {int(m) for n in names for m in re.findall(rf"\.{task}\.s(\d+)_", n)}
        if written and task in numbers:
            compared.add(task)
            if written != {numbers[task]}:
                mismatches.append((aqua_path.name, task, sorted(written), numbers[task]))
    return mismatches, compared


def test_demo_tp_caltable_names_carry_their_weblog_stage(demo_delivery):
    reports = sorted(demo_delivery.rglob("*.hsd_calimage.pipeline_aquareport.xml"))
    assert reports, "the demo has no TP member"
    for path in reports:
        mismatches, compared = _caltable_stage_mismatches(path)
        assert compared and not mismatches, (compared, mismatches)


def test_findings_name_the_weblog_stage_of_their_caltable(demo_delivery):
    import almaview as av

    report = av.qa.check(demo_delivery)
    aqua = {}  # task -> stage numbers, from the AQUA reports (ElementTree, not almaview's reader)
    for path in demo_delivery.rglob("*pipeline_aquareport.xml"):
        for st in ET.parse(path).getroot().iter("Stage"):
            aqua.setdefault(st.get("Name"), set()).add(int(st.get("Number")))
    with_table = [f for f in report.findings if f.evidence is not None and f.evidence.detail]
    # a pipeline caltable's name carries its task and stage; the VLA member's hand-made tables have none
    staged = [f for f in with_table if re.search(r"\.h[a-z]*_[a-z]+\.s\d+_", Path(f.evidence.detail[1]).name)]
    assert staged, "no finding has a pipeline caltable"
    assert all(f.stage == "" for f in with_table if f not in staged)
    for f in staged:
        number, task = f.stage.split(" ")
        assert f".{task}.s{number}_" in f.evidence.detail[1]
        assert int(number) in aqua.get(task, set()), (f.criterion, f.stage, aqua.get(task))
    assert set(report.table["stage"]) >= {f.stage for f in staged}
    assert "weblog stage" in repr(report)
