"""QA on an execution block with injected problems, built with the same CASA tools as the sample data.

One small EB (8 antennas, 2 spws) is simulated with a modified truth and a modified observing plan,
then calibrated by casatasks exactly as :mod:`almaview.sampledata.calibrate` does
(:mod:`almaview.sampledata.faults`, run in a child process like every CASA build):

- antenna DA44 has a Tsys four times its own drawn value (every spw);
- antenna DA46 has a large and fast atmospheric phase (150 deg, 50 s period);
- the plan skips the phase-calibrator scan between the second and third target scans;
- after calibration, CASA's flagdata flags every visibility of DA48 (an antenna lost from the data).

The expected verdicts are not written anywhere: the tests assert that ``almaview.qa.check`` names the
faulty antenna/scans, and every figure it reports is recomputed here with python-casacore + numpy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from almaview.sampledata.faults import FLAGGED_ANTENNA, NOISY_ANTENNA, TSYS_ANTENNA, build_faulty_eb


@pytest.fixture(scope="session")
def faulty_eb(request: pytest.FixtureRequest) -> dict:
    from almaview import sampledata

    return build_faulty_eb(
        Path(request.config.cache.mkdir("almaview-sampledata")) / sampledata.source_version() / "faulty_eb"
    )


# ------------------------------------------------------------------------------------------ the report
@pytest.fixture(scope="module")
def report(faulty_eb: dict):
    """``almaview.qa.check`` on a one-EB delivery model holding the faulty EB (README: 8 antennas)."""
    from almaview import qa
    from almaview.delivery.model import Delivery, MemberOUS, Readme

    eb = qa.execution_block(
        faulty_eb["eb_uid"], faulty_eb["ms"], list(faulty_eb["caltables"].values()), mous="uid___A001_Xfa017_X1"
    )
    readme = Readme(configuration="C-1 (8 antennas)", proposed_rms="0.5 mJy/beam", proposed_beam="1.5 arcsec")
    mous = MemberOUS(uid="uid___A001_Xfa017_X1", group=None, science_goal=None, path=".", readme=readme, ebs=[eb])
    return qa.check(Delivery(root=".", entry=".", layout="directory", project_code="2023.1.99999.S", mous=[mous]))


def _finding(report, criterion: str, aspect: str):
    rows = [f for f in report.findings if f.criterion == criterion and f.aspect == aspect]
    assert len(rows) == 1, [(f.criterion, f.aspect) for f in report.findings]
    return rows[0]


def _ct(path: Path, columns: list[str], query: str | None = None) -> dict[str, np.ndarray]:
    from casacore import tables

    with tables.table(str(path), ack=False) as t:
        sub = t.query(query) if query else t
        out = {c: sub.getcol(c) for c in columns}
        if query:
            sub.close()
    return out


def _names(path: Path, sub: str, column: str = "NAME") -> list[str]:
    from casacore import tables

    with tables.table(str(path / sub), ack=False) as t:
        return list(t.getcol(column))


def test_tsys_antenna_four_times_the_median_fails(report, faulty_eb: dict) -> None:
    f = _finding(report, "tsys", "median vs array")
    ct = faulty_eb["caltables"]["tsys"]
    ants = _names(ct, "ANTENNA")
    ratios = {}
    for spw in np.unique(_ct(ct, ["SPECTRAL_WINDOW_ID"])["SPECTRAL_WINDOW_ID"]):
        c = _ct(ct, ["FPARAM", "FLAG", "ANTENNA1"], f"SPECTRAL_WINDOW_ID=={spw}")  # FPARAM (row, chan, receptor)
        med = {}
        for a in range(len(ants)):
            rows = c["ANTENNA1"] == a
            med[a] = np.median(c["FPARAM"][rows][~c["FLAG"][rows]])
        array = np.median(list(med.values()))
        ratios.update({(int(spw), ants[a]): m / array for a, m in med.items()})
    assert f.verdict == "fail"
    assert f.figure == pytest.approx(max(ratios.values()), rel=1e-5)
    over = {ant for (spw, ant), r in ratios.items() if r > report.limits.tsys_ratio_warn}
    assert over == {faulty_eb["antennas"][TSYS_ANTENNA]}
    assert faulty_eb["antennas"][TSYS_ANTENNA] in f.why
    assert not any(a in f.why for a in faulty_eb["antennas"] if a not in over)
    panel = report.evidence(report.findings.index(f))
    assert panel.data["ratio"].max() == pytest.approx(f.figure)
    detailed = report.evidence(report.findings.index(f), detail=True)  # + the explorer's Tsys view of DA44
    assert set(detailed.sources) > set(panel.sources)
    assert any(k.startswith("detail_") for k in detailed.sources)


def _phasecal_solutions(faulty_eb: dict):
    ct = faulty_eb["caltables"]["phase"]
    field = _names(faulty_eb["ms"], "FIELD").index("J1625-2527")  # the CALIBRATE_PHASE field of the plan
    c = _ct(ct, ["CPARAM", "FLAG", "ANTENNA1", "SPECTRAL_WINDOW_ID", "SCAN_NUMBER", "TIME"], f"FIELD_ID=={field}")
    return c, _names(ct, "ANTENNA")


def test_noisy_phase_antenna_fails_gains(report, faulty_eb: dict) -> None:
    f = _finding(report, "gains", "phase rms")
    c, ants = _phasecal_solutions(faulty_eb)
    rms = {}
    for spw in np.unique(c["SPECTRAL_WINDOW_ID"]):
        for a in range(len(ants)):
            devs = []
            for r in range(c["CPARAM"].shape[2]):  # (row, channel, receptor)
                for scan in np.unique(c["SCAN_NUMBER"]):
                    sel = (c["SPECTRAL_WINDOW_ID"] == spw) & (c["ANTENNA1"] == a) & (c["SCAN_NUMBER"] == scan)
                    g = c["CPARAM"][sel, 0, r][~c["FLAG"][sel, 0, r]]
                    if len(g) > 1:
                        u = g / np.abs(g)  # phases only: deviation about the scan's circular mean
                        devs += list(np.degrees(np.angle(u * np.conj(u.mean()))))
            rms[(int(spw), ants[a])] = np.sqrt(np.mean(np.square(devs)))
    assert f.verdict == "fail"
    assert f.figure == pytest.approx(max(rms.values()), rel=1e-4)
    over = {ant for (spw, ant), r in rms.items() if r > report.limits.phase_rms_warn_deg}
    assert over == {faulty_eb["antennas"][NOISY_ANTENNA]}
    assert f.why.startswith(faulty_eb["antennas"][NOISY_ANTENNA])


def test_missing_phase_calibrator_scan_fails_phase_transfer(report, faulty_eb: dict) -> None:
    f = _finding(report, "phase transfer", "cadence")
    c = _ct(faulty_eb["ms"], ["TIME", "SCAN_NUMBER", "STATE_ID"])
    modes = _names(faulty_eb["ms"], "STATE", "OBS_MODE")
    scans = np.unique(c["SCAN_NUMBER"])
    start = {s: c["TIME"][c["SCAN_NUMBER"] == s].min() for s in scans}
    mode = {s: modes[c["STATE_ID"][c["SCAN_NUMBER"] == s][0]] for s in scans}
    ph = [s for s in scans if "CALIBRATE_PHASE" in mode[s]]
    targets = [s for s in scans if "OBSERVE_TARGET" in mode[s]]
    cycle = np.median(np.diff([start[s] for s in ph]))
    worst, unbracketed = 0.0, []
    for t in targets:
        before = max((s for s in ph if s < t), default=None)
        after = min((s for s in ph if s > t), default=None)
        if before is None or after is None or any(before < o < after for o in targets if o != t):
            unbracketed.append(int(t))
        if before is not None and after is not None:
            worst = max(worst, (start[after] - start[before]) / cycle)
    assert f.verdict == "fail"
    assert f.figure == pytest.approx(worst, rel=1e-6)
    assert unbracketed == [6, 7]  # the plan's two back-to-back target scans
    for t in unbracketed:
        assert f"target scan {t} " in f.why
    panel = report.evidence(report.findings.index(f))
    assert sorted(panel.data.loc[~panel.data["bracketed"], "scan"]) == unbracketed


def test_flagged_antenna_is_missing_and_too_few_remain(report, faulty_eb: dict) -> None:
    from casacore import tables

    per_ant = {}
    with tables.table(str(faulty_eb["ms"]), ack=False) as t:  # noqa: F841 (TaQL reads $t)
        for a, name in enumerate(faulty_eb["antennas"]):
            q = tables.taql(
                f"select gsum(ntrue(FLAG)) as n, gsum(nelements(FLAG)) as m from $t "
                f"where (ANTENNA1=={a} || ANTENNA2=={a}) && ANTENNA1!=ANTENNA2"
            )
            per_ant[name] = float(q.getcol("n")[0]) / float(q.getcol("m")[0])
    lost = faulty_eb["antennas"][FLAGGED_ANTENNA]
    assert per_ant[lost] == 1.0
    vol = _finding(report, "data volume", "flagged fraction")
    # the others keep their baselines to the lost antenna, flagged: 1 of their 7 baselines
    assert vol.figure == pytest.approx(max(v for k, v in per_ant.items() if k != lost), rel=1e-9)
    assert lost in vol.why
    ants = _finding(report, "data volume", "antennas")
    assert ants.figure == sum(v < 1 for v in per_ant.values()) == len(faulty_eb["antennas"]) - 1
    assert ants.verdict == "fail" and lost in ants.why and "fewer than the 8 required" in ants.why


def test_clean_parts_of_the_faulty_eb_pass(report, faulty_eb: dict) -> None:
    assert _finding(report, "gains", "amplitude rms").verdict == "pass"
    assert _finding(report, "flux scale", "spectral index").verdict == "not checkable"


def test_report_text_markdown_and_table(report, tmp_path: Path) -> None:
    table = report.table
    assert list(table.columns[:5]) == ["criterion", "scope", "aspect", "verdict", "figure"]
    failed = set(table.loc[table["verdict"] == "fail", "criterion"])
    assert failed == {"tsys", "gains", "phase transfer", "data volume"}
    text = repr(report)
    assert text.startswith("QA re-derived for 2023.1.99999.S: FAIL")
    assert "<table>" in report._repr_html_()
    md = report.to_markdown(tmp_path / "qa3.md")
    body = md.read_text()
    assert "## Failing criteria" in body and "within 2 months of delivery" in body
    pngs = sorted((tmp_path / "qa3_evidence").glob("fail_*.png"))
    assert len(pngs) == len(report.failures)
    for p in pngs:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"qa3_evidence/{p.name}" in body
