"""QA on the demo delivery (clean): nothing fails; warnings and 'not checkable' say why; the figures equal
independent computations (python-casacore + numpy on the tables, TaQL on the MS)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def demo(demo_delivery: Path) -> Path:
    """The demo delivery, built once per test session (tests/conftest.py)."""
    return demo_delivery


@pytest.fixture(scope="module")
def delivery(demo: Path):
    from almaview.delivery import open_delivery

    return open_delivery(demo)


@pytest.fixture(scope="module")
def report(delivery):
    from almaview import qa

    return qa.check(delivery)


def _rows(report, criterion: str, aspect: str, scope: str):
    rows = [f for f in report.findings if (f.criterion, f.aspect, f.scope) == (criterion, aspect, scope)]
    assert len(rows) == 1, (criterion, aspect, scope)
    return rows[0]


def _alma_ebs(delivery):
    """The simulated ALMA interferometer EBs (12-m and 7-m): Tsys-calibrated, not Total Power."""
    return [
        eb
        for m in delivery.mous
        if getattr(m, "array", None) != "TP"
        for eb in m.ebs
        if "tsyscal" in eb.caltables.kinds().values()
    ]


def test_nothing_fails_on_the_clean_demo(report, delivery) -> None:
    table = report.table
    assert not (table["verdict"] == "fail").any(), table[table["verdict"] == "fail"].to_string()
    assert set(table["verdict"]) <= {"pass", "warning", "not checkable", "not applicable"}
    # 'not applicable' only where the array makes a criterion meaningless (Total Power: no gains, no phase transfer)
    tp = {eb.uid for m in delivery.mous if getattr(m, "array", None) == "TP" for eb in m.ebs}
    assert set(table[table["verdict"] == "not applicable"]["scope"]) <= tp
    assert (table["why"].str.len() > 10).all()
    for eb in _alma_ebs(delivery):  # the simulated ALMA EBs: the calibration criteria hold
        for crit, aspect in (
            ("tsys", "median vs array"),
            ("gains", "phase rms"),
            ("gains", "amplitude rms"),
            ("phase transfer", "cadence"),
            ("phase transfer", "phase change"),
            ("data volume", "flagged fraction"),
            ("data volume", "antennas"),
        ):
            assert _rows(report, crit, aspect, eb.uid).verdict == "pass", (crit, aspect, eb.uid)
    # the VLA EB has no Tsys table and no phase-calibrator intent: said, not guessed
    vla = next(eb for eb in delivery.ebs if "tsyscal" not in eb.caltables.kinds().values())
    assert "no Tsys caltable" in _rows(report, "tsys", "median vs array", vla.uid).why


def test_tsys_figure_matches_casacore(report, delivery) -> None:
    from casacore import tables

    for eb in _alma_ebs(delivery):
        path = eb.caltables["tsyscal"]
        with tables.table(path, ack=False) as t:
            spws = np.unique(t.getcol("SPECTRAL_WINDOW_ID"))
            ratios = []
            for spw in spws:
                sub = t.query(f"SPECTRAL_WINDOW_ID=={spw}")
                v, fl, ant = sub.getcol("FPARAM"), sub.getcol("FLAG"), sub.getcol("ANTENNA1")
                sub.close()
                med = np.array([np.median(v[ant == a][~fl[ant == a]]) for a in np.unique(ant)])
                ratios += list(med / np.median(med))
        assert _rows(report, "tsys", "median vs array", eb.uid).figure == pytest.approx(max(ratios), rel=1e-5)


def test_cadence_and_flags_match_the_ms(report, delivery) -> None:
    from casacore import tables

    for eb in _alma_ebs(delivery):
        with tables.table(eb.calibrated_ms, ack=False) as t:
            time, scan, state = t.getcol("TIME"), t.getcol("SCAN_NUMBER"), t.getcol("STATE_ID")
            # the criterion's figure: the worst (antenna, spw) flagged fraction of the cross-correlations holding
            # the antenna; antennas entirely flagged are left out (the antenna count judges them)
            worst = 0.0
            for d in np.unique(t.getcol("DATA_DESC_ID")):
                sub = t.query(f"DATA_DESC_ID=={int(d)} && ANTENNA1!=ANTENNA2")
                a1, a2, flags = sub.getcol("ANTENNA1"), sub.getcol("ANTENNA2"), sub.getcol("FLAG")
                for ant in np.unique(np.concatenate([a1, a2])):
                    held = flags[(a1 == ant) | (a2 == ant)]
                    if held.size and not held.all():
                        worst = max(worst, float(held.mean()))
                sub.close()
            flagged = worst
        with tables.table(eb.calibrated_ms + "/STATE", ack=False) as s:
            modes = s.getcol("OBS_MODE")
        ph = [s for s in np.unique(scan) if "CALIBRATE_PHASE" in modes[state[scan == s][0]]]
        starts = np.array([time[scan == s].min() for s in ph])
        cycle = np.median(np.diff(starts))
        # every target scan sits between consecutive phase-calibrator scans: the interval is one cycle
        assert _rows(report, "phase transfer", "cadence", eb.uid).figure == pytest.approx(
            np.max(np.diff(starts)) / cycle if len(starts) > 2 else 1.0, rel=1e-6
        )
        assert _rows(report, "data volume", "flagged fraction", eb.uid).figure == pytest.approx(flagged, abs=1e-12)


def test_every_finding_has_an_evidence_panel(report) -> None:
    from almaview.plots import Panel

    for k, f in enumerate(report.findings):
        panel = report.evidence(k)
        assert isinstance(panel, Panel)
        if f.evidence is not None:
            opt = f.evidence.options
            assert opt["y"] in panel.data.columns
            if (
                f.figure is not None
                and f.verdict != "not checkable"
                and f.aspect not in ("target S/N", "negative features", "rms vs proposed")
            ):
                assert (
                    np.isclose(panel.data[opt["y"]].max(), f.figure)
                    or np.isclose(panel.data[opt["y"]].min(), f.figure)
                    or f.criterion in ("flux scale", "data volume")
                )


def test_summary_and_draft(report, demo: Path, tmp_path: Path) -> None:
    text = repr(report)
    assert text.splitlines()[0].startswith("QA re-derived for 2023.1.01234.S: ")
    assert "delivery date: unknown" in text  # the demo package states no delivery date
    logs = sorted(p.name for p in demo.glob("science_goal.*/group.*/member.*/log/casa-*.log"))
    if logs:
        stamp = max(n[5:13] for n in logs)
        assert f"processed {stamp[:4]}-{stamp[4:6]}-{stamp[6:8]} (CASA log)" in text
    md = report.to_markdown(tmp_path / "qa3.md").read_text()
    assert "## Failing criteria" not in md and "## Warnings" in md
    n_warn = int((report.table["verdict"] == "warning").sum())
    assert len(list((tmp_path / "qa3_evidence").glob("warning_*.png"))) == n_warn


def test_flux_scale_matches_flux_csv(report, delivery, demo: Path) -> None:
    import csv
    import io
    import re
    import tarfile

    from casacore import tables

    text = None
    for aux in sorted(demo.glob("science_goal.*/group.*/member.*/calibration/*auxproducts.tgz")):
        with tarfile.open(aux) as tf:  # the 12-m member's (a Total Power member ships jyperk.csv instead)
            member = next((m for m in tf.getmembers() if m.name.endswith("flux.csv")), None)
            if member is not None:
                text = tf.extractfile(member).read().decode()
                break
    assert text is not None, "no auxproducts.tgz of the demo holds flux.csv"
    rows = [r for r in csv.DictReader(io.StringIO(text)) if "origin=catalogue" not in r["comment"]]
    centre = {}
    for eb in _alma_ebs(delivery):
        with tables.table(eb.calibrated_ms + "/SPECTRAL_WINDOW", ack=False) as t:
            freqs = [t.getcell("CHAN_FREQ", k) for k in range(t.nrows())]  # spws differ in channel count
        centre[eb.uid] = {k: (f.min() + f.max()) / 2 for k, f in enumerate(freqs)}
    by = {}
    for r in rows:
        eb, field = r["ms"].split(".ms")[0], re.search(r"field=(\S+)", r["comment"]).group(1)
        by.setdefault(field, {}).setdefault(eb, []).append((centre[eb][int(r["spw"])], float(r["I"]), int(r["spw"])))
    assert by, "the demo's flux.csv has derived (fluxscale) fluxes"
    for field, ebs in by.items():
        alphas = []
        for pts in ebs.values():
            f, s, _ = map(np.array, zip(*pts))
            alphas.append(np.polyfit(np.log(f / f.mean()), np.log(s), 1)[0])
        got = _rows(report, "flux scale", "spectral index", field)
        assert got.figure == pytest.approx(alphas[int(np.argmax(np.abs(alphas)))], rel=1e-6)
        per_spw = {}
        for pts in ebs.values():
            for _, s, spw in pts:
                per_spw.setdefault(spw, []).append(s)
        dev = max(abs(s / np.median(v) - 1) for v in per_spw.values() for s in v)
        assert _rows(report, "flux scale", "across EBs", field).figure == pytest.approx(dev, rel=1e-6, abs=1e-12)
