"""Total Power QA as the ALMA single-dish pipeline scores it: baseline flatness (hsd_baseline's binned statistic and
``score_sd_baseline_quality``'s ramp). Expected values are computed here from the definition (numpy loops, astropy
for the delivered cube), never by the code under test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from almaview.analysis.singledish import binned_flatness
from almaview.qa.limits import Limits
from almaview.qa.singledish import pipeline_flatness_score


def _definition(spectrum, mask, nbin=None):
    """The pipeline's flatness statistic, written out: std of the unmasked channels; nbin 20 (>= 512 channels) or
    10; bin k spans channels floor(k w)+1 (0 for k = 0) .. floor((k+1) w) (capped at the last), w = n / nbin; a bin
    touching a masked channel is dropped (fewer than two whole bins: twice the bins, once); ratios of min, max and max - min bin mean to the std."""
    n = len(spectrum)
    rms = math.sqrt(sum((v - np.mean(spectrum[~mask])) ** 2 for v in spectrum[~mask]) / (~mask).sum())
    nbin = nbin or (20 if n >= 512 else 10)
    w = n / nbin
    means = []
    for k in range(nbin):
        lo = 0 if k == 0 else math.floor(k * w) + 1
        hi = min(math.floor((k + 1) * w), n - 1)
        if not mask[lo : hi + 1].any():
            means.append(sum(spectrum[lo : hi + 1]) / (hi + 1 - lo))
    lo, hi = min(means), max(means)
    return lo / rms, hi / rms, (hi - lo) / rms


def _ramp(r):
    """score_sd_baseline_quality (PIPEREQ-168): 1.0 up to 1.8, 0.33 from 3.6, a straight line between."""
    if r <= 1.8:
        return 1.0
    if r >= 3.6:
        return 0.33
    return 1.0 + (r - 1.8) * (0.33 - 1.0) / (3.6 - 1.8)


def test_a_pure_slope_scores_as_computed_by_hand():
    # 100 channels, 10 bins: bin 0 = channels 0..10 (mean 5), bin 9 = 91..99 (mean 95); std of 0..99 =
    # sqrt((100^2 - 1) / 12)
    stat = binned_flatness(np.arange(100.0) * 0.02)
    expected = 90 / math.sqrt((100**2 - 1) / 12)
    assert stat.diff_ratio == pytest.approx(expected, rel=1e-12)
    assert stat.nbin == 10 and stat.valid
    assert pipeline_flatness_score(stat.diff_ratio) == pytest.approx(_ramp(expected))
    assert 0.5 < pipeline_flatness_score(stat.diff_ratio) < 0.52  # "Poor"


@pytest.mark.parametrize(
    ("amplitude", "quality"),
    [(0.0, "Good"), (1.5, "Moderate"), (5.0, "Poor")],  # a ripple of 1.5x, 5x the noise
)
def test_ripple_on_noise_with_the_line_masked(amplitude, quality):
    rng = np.random.default_rng(7)
    n = 1024  # >= 512 channels: 20 bins
    chan = np.arange(n)
    spectrum = rng.normal(0, 1.0, n) + amplitude * np.sin(2 * np.pi * chan / 400.0)
    spectrum[480:540] += 20.0  # a line, masked as the pipeline masks its detected lines
    mask = np.zeros(n, bool)
    mask[470:550] = True
    stat = binned_flatness(spectrum, mask)
    rmin, rmax, rdiff = _definition(spectrum, mask)
    assert stat.nbin == 20 and stat.nbin_factor == 1
    assert (stat.min_ratio, stat.max_ratio, stat.diff_ratio) == pytest.approx((rmin, rmax, rdiff), rel=1e-9)
    assert np.isfinite(stat.bin_means).sum() == 20 - 2  # bins 9, 10 (channels 461..512, 513..563) touch it
    score = pipeline_flatness_score(stat.diff_ratio)
    assert score == pytest.approx(_ramp(rdiff))
    want = "Poor" if score <= 0.66 else "Moderate" if score <= 0.9 else "Good"
    assert want == quality, (rdiff, score)


def test_too_few_bins_doubles_them_once_then_gives_up():
    spectrum = np.random.default_rng(2).normal(0, 1, 100)
    mask = np.ones(100, bool)
    mask[0:7] = False  # 7 free channels: no 10-channel bin is whole; with 20 bins (5 channels) bin 0 is 0..5
    mask[90:96] = False  # ... and 20-bin bin 18 = channels 91..95 is whole
    stat = binned_flatness(spectrum, mask)
    assert stat.nbin == 20 and stat.nbin_factor == 2 and stat.valid
    assert np.isfinite(stat.bin_means).sum() == 2
    assert stat.diff_ratio == pytest.approx(_definition(spectrum, mask, nbin=20)[2])
    assert not binned_flatness(spectrum, np.arange(100) > 3).valid


def test_limits_are_the_pipelines_quality_levels():
    lim = Limits()
    assert (lim.baseline_flat_warn, lim.baseline_flat_fail) == (0.9, 0.66)
    assert "score_sd_baseline_quality" in lim.source("baseline_flat_warn")


@pytest.mark.casa
@pytest.mark.slow
def test_demo_tp_cube_flatness_is_scored_from_its_fits(demo_delivery):
    """The demo's TP cube: its mean spectrum read with astropy, the pipeline's statistic written out here."""
    from astropy.io import fits

    import almaview as av
    from almaview.demo.project import TP

    from almaview.qa.report import QAReport
    from almaview.qa.check import check_mous

    d = av.open_delivery(demo_delivery)
    tp = next(m for m in d.mous if m.uid == TP.uid)
    report = QAReport(d.project_code, check_mous(tp, Limits()))  # what av.qa.check gives the TP member
    rows = report.table
    flat = rows[(rows.criterion == "baseline flatness") & rows.scope.str.contains("cube")]
    assert len(flat) == 1, rows[rows.criterion == "baseline flatness"]
    path = next((demo_delivery / tp.path / "product").glob("*.cube.I.sd.fits"))
    with fits.open(path) as hdul:
        data = np.asarray(hdul[0].data, dtype=float)  # (stokes, freq, y, x)
        assert "FREQ" in hdul[0].header["CTYPE3"]
    planes = data.reshape(data.shape[-3], -1).T  # (pixel, channel)
    planes = planes[np.isfinite(planes).all(axis=1)]
    spectrum = planes.mean(axis=0)
    n = spectrum.size
    mask = np.zeros(n, bool)
    mask[n // 4 : n - n // 4] = True
    rdiff = _definition(spectrum, mask)[2]
    row = flat.iloc[0]
    assert row.figure == pytest.approx(rdiff, rel=1e-6)
    assert row.score == pytest.approx(_ramp(rdiff), abs=1e-9)
    assert row.verdict == ("fail" if row.score <= 0.66 else "warning" if row.score <= 0.9 else "pass")
    assert "hsd_baseline" in row.aspect and "score_sd_baseline_quality" in row.source
    # the score is in the HTML table beside the finding
    assert f"<td>{row.score:.2f}</td>" in report._repr_html_()


def test_on_off_elevation_difference_takes_the_solutions_either_side():
    import pandas as pd

    from almaview.analysis.singledish import on_off_elevation_difference

    t = pd.date_range("2024-05-17 05:20:00", periods=7, freq="10s")
    el = pd.DataFrame(
        {
            "time": t,
            "kind": ["OFF", "ON", "ON", "OFF", "ON", "ON", "OFF"],
            "flagged": [False, False, False, False, True, False, False],
            "elevation_deg": [40.0, 41.0, 42.0, 43.0, 99.0, 45.0, 47.0],
        }
    )
    # solutions at the OFF times: ON at t1, t2 see 40 before and 43 after; t4 is flagged; t5 sees 43 and 47
    diff = on_off_elevation_difference(el, t[[0, 3, 6]])
    got = sorted(zip(diff.time, diff.side, diff.difference_deg))
    want = sorted(
        [
            (t[1], "preceding", 1.0),
            (t[1], "subsequent", -2.0),
            (t[2], "preceding", 2.0),
            (t[2], "subsequent", -1.0),
            (t[5], "preceding", 2.0),
            (t[5], "subsequent", -2.0),
        ]
    )
    assert got == want


def _casacore_elevations(ms, antenna_id):
    """(time s, intent, flagged, elevation deg) of one antenna's rows of spw 0, with casacore's measures: the
    POINTING table's DIRECTION interpolated to the row time, converted J2000 -> AZELGEO at the antenna's position."""
    from casacore import tables
    from casacore.measures import measures
    from casacore.quanta import quantity

    with tables.table(f"{ms}/ANTENNA", ack=False) as t:
        pos = t.getcell("POSITION", antenna_id)
    with tables.table(f"{ms}/STATE", ack=False) as t:
        modes = list(t.getcol("OBS_MODE"))
    with tables.table(f"{ms}/POINTING", ack=False) as t:
        p = t.query(f"ANTENNA_ID=={antenna_id}", sortlist="TIME")
        pt, pdir = p.getcol("TIME"), p.getcol("DIRECTION")[:, 0, :]
    with tables.table(str(ms), ack=False) as t:
        rows = t.query(f"ANTENNA1=={antenna_id} && DATA_DESC_ID==0", sortlist="TIME")
        times, states, flags = rows.getcol("TIME"), rows.getcol("STATE_ID"), rows.getcol("FLAG")
    me = measures()
    me.doframe(me.position("ITRF", *[quantity(v, "m") for v in pos]))
    out = []
    for tm, st, fl in zip(times, states, flags):
        ra = np.interp(tm, pt, np.unwrap(pdir[:, 0]))
        dec = np.interp(tm, pt, pdir[:, 1])
        me.doframe(me.epoch("UTC", quantity(tm, "s")))
        # AZELGEO: elevation above the geodetic horizon, as astropy's AltAz (casacore's AZEL is geocentric: 0.13 deg
        # higher here, the same for ON and OFF)
        azel = me.measure(me.direction("J2000", quantity(ra, "rad"), quantity(dec, "rad")), "AZELGEO")
        out.append((tm, modes[st], bool(fl.all()), np.degrees(azel["m1"]["value"])))
    return out


@pytest.mark.casa
def test_tp_sky_elevation_difference_against_casacore_measures(tp_eb):
    from types import SimpleNamespace

    from casacore import tables

    from almaview.io.caltable import open_caltable
    from almaview.qa.singledish import sky_elevation_difference

    eb = SimpleNamespace(uid="tp", calibrated_ms=str(tp_eb.ms))
    finding = sky_elevation_difference(eb, open_caltable(tp_eb.caltables["sky"]), "sky")
    worst = 0.0
    with tables.table(str(tp_eb.caltables["sky"]), ack=False) as t:
        for ant in range(len(tp_eb.antennas)):
            cal = t.query(f"ANTENNA1=={ant} && SPECTRAL_WINDOW_ID==0")
            cal_t = cal.getcol("TIME")[~cal.getcol("FLAG").all(axis=(1, 2))]
            rows = _casacore_elevations(tp_eb.ms, ant)
            off = [(tm, e) for tm, m, f, e in rows if "OFF_SOURCE" in m and "OBSERVE_TARGET" in m and not f]
            on = [(tm, e) for tm, m, f, e in rows if "ON_SOURCE" in m and not f]
            off_t = np.array([o[0] for o in off])
            el_cal = np.array([off[int(np.argmin(abs(off_t - c)))][1] for c in cal_t])
            for tm, e in on:
                before, after = cal_t < tm, cal_t >= tm
                if before.any():
                    worst = max(worst, abs(e - el_cal[before][np.argmax(cal_t[before])]))
                if after.any():
                    worst = max(worst, abs(e - el_cal[after][np.argmin(cal_t[after])]))
    assert 0 < worst < 3
    assert finding.figure == pytest.approx(worst, abs=2e-3)  # astropy vs casacore AZEL: arcseconds
    assert finding.score == 1.0 and finding.verdict == "pass"


@pytest.mark.casa
def test_tp_jyperk_coverage_is_the_pipelines_all_or_nothing(tp_eb):
    import csv
    from types import SimpleNamespace

    from casacore import tables

    from almaview.qa.singledish import jyperk_coverage

    with open(tp_eb.products["jyperk_csv"]) as fh:
        rows = [
            (r["MS"], r["Antenna"], int(r["Spwid"]), r["Polarization"], float(r["Factor"])) for r in csv.DictReader(fh)
        ]
    with tables.table(f"{tp_eb.ms}/ANTENNA", ack=False) as t:
        n_ant = t.nrows()
    with tables.table(f"{tp_eb.ms}/DATA_DESCRIPTION", ack=False) as t:
        n_spw = len(set(t.getcol("SPECTRAL_WINDOW_ID")))
    with tables.table(f"{tp_eb.ms}/POLARIZATION", ack=False) as t:
        n_pol = int(t.getcell("NUM_CORR", 0))
    eb = SimpleNamespace(uid="tp", calibrated_ms=str(tp_eb.ms))
    full = jyperk_coverage(eb, rows)
    assert (full.score, full.verdict, full.figure, full.units) == (
        1.0,
        "pass",
        n_ant * n_spw * n_pol,
        f"of {n_ant * n_spw * n_pol}",
    )
    dropped = rows[3]
    part = jyperk_coverage(eb, rows[:3] + rows[4:])
    assert (part.score, part.verdict) == (0.0, "fail")
    assert f"{dropped[1]} spw{dropped[2]} {dropped[3]}" in part.why
