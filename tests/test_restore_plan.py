"""Restore planning: verdicts per EB (ready, needs raw data, needs CASA, not enough disk), CASA discovery,
the commands and outputs, and a delivery left untouched.

Expected values come from independent paths: the demo's own files (calapply.txt
lines counted with a regular expression, raw/ listed with os), the ASDM's row
counts against python-casacore on the delivered MS.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import shutil
from pathlib import Path

import pytest

import almaview as av

planmod = importlib.import_module("almaview.restore.plan")

EB1, EB2, VLA_EB = "uid___A002_X10ab2c3_X1f4a", "uid___A002_X10ab2c3_X2b07", "uid___A002_X5921_X1"
ALMA_OUS = "uid___A001_X3571_X8a"
PROJECT = "2023.1.01234.S"


@pytest.fixture(scope="session")
def demo(demo_delivery: Path) -> Path:
    """The demo delivery, built once per test session (tests/conftest.py)."""
    return demo_delivery


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under root -> sha256 of its bytes (and every directory -> 'dir')."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for d in dirs:
            out[os.path.relpath(os.path.join(dirpath, d), root)] = "dir"
        for f in files:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def member(project: Path, ous: str = ALMA_OUS) -> Path:
    return next(project.glob(f"science_goal.*/group.*/member.{ous}"))


def linked_copy(project: Path, dest: Path, skip: set[str]) -> Path:
    """A copy of the delivery made of hard links (fast, no space), without the relative paths in ``skip``."""

    def ignore(dirpath, names):
        rel = os.path.relpath(dirpath, project)
        return {n for n in names if os.path.normpath(os.path.join(rel, n)) in skip}

    def link(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(project, dest / project.name, ignore=ignore, copy_function=link)
    return dest / project.name


def test_plan_on_the_demo_says_ready_and_names_the_missing_raw_data(demo, tmp_path):
    before = tree_digest(demo)
    p = av.restore.plan(demo, workdir=tmp_path / "work")
    verdicts = {e.uid: e.verdict for e in p.ebs}
    raw = sorted(x.name for x in (member(demo) / "raw").iterdir())
    assert raw == [f"{EB1}.asdm.sdm", f"{EB2}.asdm.sdm"]
    assert verdicts[EB1] == verdicts[EB2] == "ready"
    assert verdicts[VLA_EB] == f"needs raw data: fetch {PROJECT}_{VLA_EB}.asdm.sdm.tar from the ALMA archive"
    assert p.engine == "modular" and p.casa.kind == "pip"
    assert p.casa_required.startswith("6.7.0")
    # one applycal per line of the delivered calapply.txt, fields as there, intents as CASA patterns
    text = (member(demo) / "calibration" / f"{EB1}.ms.calapply.txt").read_text()
    fields = re.findall(r"^applycal\(.*?field='([^']*)'", text, re.M)
    e1 = next(e for e in p.ebs if e.uid == EB1)
    calls = [s for s in e1.steps if s.task == "applycal"]
    assert [c.kwargs["field"] for c in calls] == fields and len(fields) == 4
    assert calls[0].kwargs["intent"] == "*CALIBRATE_BANDPASS*"
    assert e1.steps[0].task == "importasdm" and e1.steps[0].kwargs["asdm"] == str(
        member(demo) / "raw" / f"{EB1}.asdm.sdm"
    )
    assert e1.output_ms == str(tmp_path / "work" / ALMA_OUS / "calibrated" / f"{EB1}.ms")
    # the estimate counts the rows importasdm will write: the delivered MS has as many
    from casacore import tables

    with tables.table(str(member(demo) / "calibrated" / f"{EB1}.ms"), ack=False) as t:
        assert e1.estimate.rows == t.nrows()
    assert p.need_bytes == sum(e.estimate.total for e in p.ebs if e.ready)
    text_repr, html = repr(p), p._repr_html_()
    for needle in (EB1, "ready", "needs raw data", "importasdm(", "applycal(", "almaview.restore.engines.modular"):
        assert needle in text_repr
    assert "<table>" in html and "needs raw data" in html
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())  # planning writes nothing
    assert tree_digest(demo) == before


def test_plan_with_a_missing_asdm_names_the_archive_file(demo, tmp_path):
    rel = os.path.relpath(member(demo) / "raw" / f"{EB1}.asdm.sdm", demo)
    copy = linked_copy(demo, tmp_path / "d", skip={rel})
    p = av.restore.plan(copy, workdir=tmp_path / "work", ebs=[EB1, EB2])
    v = {e.uid: e.verdict for e in p.ebs}
    assert v[EB1] == f"needs raw data: fetch {PROJECT}_{EB1}.asdm.sdm.tar from the ALMA archive"
    assert v[EB2] == "ready"
    assert p.need_bytes == next(e for e in p.ebs if e.uid == EB2).estimate.total


def test_plan_with_too_little_disk(demo, tmp_path, monkeypatch):
    monkeypatch.setattr(planmod, "free_bytes", lambda path: 12 * 10**6)
    p = av.restore.plan(demo, workdir=tmp_path / "work", ebs=["X1f4a", "X2b07"])
    need = sum(e.estimate.total for e in p.ebs)
    for e in p.ebs:
        assert e.verdict == f"not enough disk: need ~{need / 1e9:.2f} GB, have 0.01 GB in {tmp_path / 'work'}"
    assert not p.ready
    with pytest.raises(av.restore.RestoreNotReady, match="not enough disk"):
        av.restore.run(p, progress=False)


def test_plan_with_no_casa(demo, tmp_path, monkeypatch):
    monkeypatch.setattr(planmod, "find_casa", lambda: [])
    p = av.restore.plan(demo, workdir=tmp_path / "work")
    v = {e.uid: e.verdict for e in p.ebs}
    assert p.engine is None
    assert v[EB1] == v[EB2] == f"needs CASA 6.7.0 with pipeline {p.pipeline_required}"
    assert p.pipeline_required  # from the README
    assert v[VLA_EB].startswith("needs raw data")  # the first thing missing is named first
    assert "CASA found: none" in repr(p)
    assert any("install CASA 6.7.0" in m for m in p.messages)


def test_plan_with_a_casa_of_another_version(demo, tmp_path, monkeypatch):
    old = av.restore.CasaInstallation("pip", "6.5.4.9", "/x/casatasks")
    monkeypatch.setattr(planmod, "find_casa", lambda: [old])
    p = av.restore.plan(demo, workdir=tmp_path / "work", ebs=[EB1])
    assert p.ebs[0].verdict.startswith("needs CASA 6.7.0")
    assert "casatasks 6.5.4 differs from the delivery's CASA 6.7.0" in repr(p)


def fake_casa(root: Path, name: str, script: str = "exit 0") -> Path:
    exe = root / name / "bin" / "casa"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n" + script + "\n")
    exe.chmod(0o755)
    return exe.parent


def test_find_casa_reads_versions_from_install_directories(tmp_path):
    a = fake_casa(tmp_path, "casa-6.5.4-9-pipeline-2023.1.0.124")
    b = fake_casa(tmp_path, "casa-6.7.0-31-py3.10.el8")
    found = av.restore.find_casa(paths=[str(a), str(b), str(tmp_path / "nothing")], include_pip=False)
    assert [(c.kind, c.version, c.pipeline) for c in found] == [
        ("monolithic", "6.5.4-9", "2023.1.0.124"),
        ("monolithic", "6.7.0-31", None),
    ]
    ok, why = found[1].suitability("6.7.0-31", route="pipeline")
    assert not ok and "without the pipeline" in why
    assert found[0].suitability("6.5.4-9", route="pipeline")[0]


def test_scriptforpi_engine_with_a_suitable_monolithic_casa(demo, tmp_path, monkeypatch):
    """A fake CASA 6.7.0 + pipeline: the plan runs scriptForPI from a mirror of the member OUS; a scriptForPI that
    leaves no MS is reported as failed, never as restored."""
    log_line = "2024-01-01 00:00:00\tINFO\thifa_restoredata::::casa\t##### Begin Task: hifa_restoredata #####"
    bindir = fake_casa(
        tmp_path,
        "casa-6.7.0-31-pipeline-2025.1.0.0",
        f'while [ $# -gt 0 ]; do [ "$1" = --logfile ] && printf "{log_line}\\n" > "$2"; shift; done',
    )
    found = av.restore.find_casa(paths=[str(bindir)], include_pip=False)
    monkeypatch.setattr(planmod, "find_casa", lambda: found)
    before = tree_digest(member(demo))
    work = tmp_path / "work"
    p = av.restore.plan(demo, workdir=work, ebs=[EB2])
    assert p.engine == "scriptforpi" and p.ebs[0].verdict == "ready"
    assert p.commands[0].text() == (
        f"cd {work / ALMA_OUS / 'script'} && {bindir / 'casa'} --pipeline --nogui --nologger --logfile "
        f"{work / ALMA_OUS / 'casa-restore.log'} -c member.{ALMA_OUS}.scriptForPI.py"
    )
    result = av.restore.run(p, progress=False)
    r = result[EB2]
    assert r.status == "failed" and "missing" in r.message
    assert sorted(x.name for x in (work / ALMA_OUS / "raw").iterdir()) == [f"{EB2}.asdm.sdm"]  # selected EB only
    assert (work / ALMA_OUS / "raw" / f"{EB2}.asdm.sdm").is_symlink()
    assert "hifa_restoredata" in (work / "almaview-restore.log").read_text()
    assert av.restore.restored_ms(p.delivery, EB2) is None
    assert tree_digest(member(demo)) == before


def test_a_workdir_inside_the_delivery_is_refused(demo):
    with pytest.raises(av.restore.RestoreError, match="inside the delivery"):
        av.restore.plan(demo, workdir=demo / "restore-here")


def test_unknown_eb_is_a_typed_error(demo, tmp_path):
    with pytest.raises(av.restore.RestoreError, match="matches 0 EBs"):
        av.restore.plan(demo, workdir=tmp_path, ebs=["X9999"])


def test_progress_lines_are_parsed():
    from almaview.restore.progress import parse_line

    e = parse_line(f"2024-05-16 08:15:02\tINFO\tapplycal::::casa\talmaview-restore: EB 2/3 {EB1}: step 4/8 applycal")
    assert (e.kind, e.eb_index, e.eb_total, e.uid, e.step, e.steps, e.task) == ("step", 2, 3, EB1, 4, 8, "applycal")
    e = parse_line(f"2024-05-16 08:15:02\tSEVERE\t::casa\talmaview-restore: EB 1/1 {EB1}: failed: step 2/8 x")
    assert (e.kind, e.message) == ("eb-failed", "step 2/8 x")
    assert parse_line("no log line") is None


def test_intents_are_dropped_only_when_fields_stay_unambiguous():
    from almaview.restore.engines.modular import StepFailed, resolve_intents

    calls = [dict(field="J1", intent="*CALIBRATE_BANDPASS*"), dict(field="T", intent="*OBSERVE_TARGET*")]
    out, warn = resolve_intents(calls, ["CALIBRATE_BANDPASS#ON_SOURCE", "OBSERVE_TARGET#ON_SOURCE"])
    assert out == calls and warn == []
    out, warn = resolve_intents(calls, ["OBSERVE_TARGET#ON_SOURCE"])
    assert "intent" not in out[0] and out[1]["intent"] == "*OBSERVE_TARGET*" and "field 'J1'" in warn[0]
    both = [
        dict(field="J1", intent="*CALIBRATE_BANDPASS*", gaintable=["a"]),
        dict(field="J1", intent="*CALIBRATE_FLUX*", gaintable=["b"]),
    ]
    with pytest.raises(StepFailed, match="several lines"):
        resolve_intents(both, ["OBSERVE_TARGET#ON_SOURCE"])
