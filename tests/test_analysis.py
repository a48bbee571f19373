"""The analysis layer's small pieces against independent computations (astropy.stats, numpy), and the old names."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.stats import mad_std

import almaview as av
from almaview.analysis.statistics import phase_rms, plane_limits, plane_limits_and_rms, robust_rms, wrap_deg


def test_robust_rms_is_astropys_mad_std():
    rng = np.random.default_rng(3)
    x = rng.normal(0.2, 1.7, 20001)
    x[::97] = np.nan
    assert robust_rms(x) == pytest.approx(mad_std(x, ignore_nan=True), rel=1e-12)


def _numpy_mad_rms(x: np.ndarray) -> float:
    """1.4826 x numpy's median of |x - median(x)| over the finite values, in float64 (the MAD definition)."""
    v = np.asarray(x, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if not v.size:
        return float("nan")
    return 1.482602218505602 * float(np.median(np.abs(v - np.median(v))))


def test_robust_rms_is_exactly_numpys_mad_on_ties_odd_and_even_sizes():
    # robust_rms finds the MAD by bisection over the sorted values: it must be numpy's median of the deviations
    # bit for bit, with ties (integers), blanks, float32 and sizes 1..60 (odd and even)
    rng = np.random.default_rng(11)
    for trial in range(3000):
        n = int(rng.integers(1, 61))
        kind = trial % 4
        if kind == 0:
            x = rng.normal(0.3, 2.0, n)
        elif kind == 1:
            x = rng.integers(-3, 4, n).astype(float)  # many ties, deviations equal on both sides
        elif kind == 2:
            x = rng.normal(size=n).astype(np.float32)
            x[rng.random(n) < 0.25] = np.nan
        else:
            x = np.exp(3.0 * rng.normal(size=n)).astype(np.float32)  # skewed: the median far from the middle
        want = _numpy_mad_rms(x)
        got = robust_rms(x)
        assert got == want or (np.isnan(got) and np.isnan(want)), (x, got, want)


def test_plane_limits_and_rms_are_the_two_separate_answers():
    rng = np.random.default_rng(4)
    v = rng.normal(0.0, 0.01, (700, 900)).astype(np.float32)
    v[300:320, 400:430] += 2.0  # a source: the tails are not symmetric
    v[::53, ::7] = np.nan
    clips = (100.0, 99.5, 95.0)
    lim, rms = plane_limits_and_rms(v, clips, max_samples=1 << 16)
    assert lim == plane_limits(v, clips, max_samples=1 << 16)
    k = int(np.ceil(v.size / (1 << 16)))
    assert rms == _numpy_mad_rms(v.ravel()[::k])  # the same every-k-th subsample as plane_limits'
    assert rms == pytest.approx(mad_std(v.ravel()[::k], ignore_nan=True), rel=1e-6)
    assert lim["low"][0] == np.nanmin(v) and lim["high"][0] == np.nanmax(v)  # 100 %: every pixel, not the sample


def test_wrap_deg_agrees_with_complex_angle():
    p = np.linspace(-900.0, 900.0, 721) + 0.3
    np.testing.assert_allclose(wrap_deg(p), np.degrees(np.angle(np.exp(1j * np.radians(p)))), atol=1e-9)


def test_phase_rms_about_circular_mean():
    rng = np.random.default_rng(5)
    p = 175.0 + rng.normal(0, 8.0, 5000)  # straddles +-180
    d = np.angle(np.exp(1j * np.radians(p - 175.0)))
    expected = np.degrees(np.sqrt(np.mean((d - np.angle(np.mean(np.exp(1j * d)))) ** 2)))
    assert phase_rms(wrap_deg(p)) == pytest.approx(expected, rel=1e-9)


def test_plane_limits_are_numpy_percentiles():
    v = np.random.default_rng(1).normal(size=(64, 64))
    lim = plane_limits(v, (100.0, 99.0))
    assert lim["low"] == [v.min(), pytest.approx(np.percentile(v, 0.5))]
    assert lim["high"] == [v.max(), pytest.approx(np.percentile(v, 99.5))]


@pytest.mark.parametrize("name", ["reduce_visibilities", "flag_fractions", "region_spectrum", "moment"])
def test_moved_reductions_keep_their_old_names_with_a_warning(name):
    import almaview.plots as plots

    with pytest.warns(DeprecationWarning, match=f"almaview.analysis.{name}"):
        old = getattr(plots, name)
    assert old is getattr(av.analysis, name)


def test_intent_vocabulary_is_one_table():
    from almaview.constants import INTENTS, intent_names

    assert INTENTS["CALIBRATE_FLUX"] == INTENTS["CALIBRATE_AMPLI"] == "AMPLITUDE"
    assert intent_names("CALIBRATE_BANDPASS#ON_SOURCE,CALIBRATE_FLUX#ON_SOURCE") == ["BANDPASS", "AMPLITUDE"]


def test_constants_have_one_home():
    """MAD factor, beam-area factor, wrap_deg, DATA_COLUMNS and the intent table are written once."""
    import pathlib
    import re

    import almaview

    root = pathlib.Path(almaview.__file__).parent
    patterns = {
        "MAD factor": r"1\.4826\d*\s*\*",
        "beam factor": r"pi\s*/\s*\(4(\.0)?\s*\*\s*(math|np)\.log\(2",
        "wrap_deg": r"^def wrap_deg\(",
        "DATA_COLUMNS": r"^DATA_COLUMNS = \{\s*\"",
        "intent table": r"\"CALIBRATE_FLUX\": \"",
    }
    for what, pat in patterns.items():
        homes = sorted(
            str(p.relative_to(root)) for p in root.rglob("*.py") if re.search(pat, p.read_text(), flags=re.M)
        )
        assert len(homes) <= 1, f"{what} is written in {homes}"


def test_intent_names_are_the_same_everywhere():
    from almaview.constants import INTENTS
    from almaview.demo.calibration import PIPELINE_INTENT, pipeline_intent
    from almaview.restore.plan import INTENT_PATTERNS

    assert PIPELINE_INTENT is INTENTS and pipeline_intent("CALIBRATE_FLUX#ON_SOURCE") == "AMPLITUDE"
    first = {}
    for alma, short in INTENTS.items():
        first.setdefault(short, alma)
    for short, alma in first.items():  # the CASA pattern of a pipeline name selects its (first) ALMA intent
        assert INTENT_PATTERNS[short].strip("*") in alma


@pytest.mark.filterwarnings("ignore::astropy.utils.exceptions.AstropyWarning")
def test_cont_ranges_in_the_ms_frame_agree_with_astropy(alma_eb):
    """LSRK -> TOPO for the field's direction at the midpoint of its integrations, at the array centre: the
    Doppler factor from casacore measures (through almaview) against astropy's SpectralCoord."""
    import astropy.units as u
    from astropy.coordinates import EarthLocation, SkyCoord, SpectralCoord
    from astropy.time import Time
    from casacore import tables

    from almaview.analysis.frames import ranges_in_ms_frame

    vis = av.open_ms(alma_eb.ms)
    field = str(vis["spw_0"].ds.field_name.values[0])
    lsrk = [(230.50e9, 230.52e9)]
    got, frame = ranges_in_ms_frame(lsrk, vis, spw=0, field=field, frame="LSRK")
    assert frame == "TOPO"
    with tables.table(str(alma_eb.ms / "FIELD"), ack=False) as t:
        fid = list(t.getcol("NAME")).index(field)
        ra, dec = t.getcol("PHASE_DIR")[fid, 0]
    with tables.table(str(alma_eb.ms), ack=False) as t:
        q = t.query(f"FIELD_ID=={fid} && DATA_DESC_ID==0")
        times = q.getcol("TIME")
        q.close()
    with tables.table(str(alma_eb.ms / "ANTENNA"), ack=False) as t:
        pos = t.getcol("POSITION")
    mid = Time((times.min() + times.max()) / 2 / 86400.0, format="mjd", scale="utc")
    loc = EarthLocation.from_geocentric(*np.asarray(vis["antennas"].ds.attrs["array_centre"]), unit=u.m)
    assert np.linalg.norm(pos.mean(0) - np.asarray(vis["antennas"].ds.attrs["array_centre"])) < 5e3
    target = SkyCoord(ra * u.rad, dec * u.rad, frame="icrs")
    obs = loc.get_itrs(obstime=mid)
    topo = SpectralCoord(np.array(lsrk[0]) * u.Hz, observer=obs, target=target)
    lsrk_sc = topo.with_observer_stationary_relative_to("lsrk")
    factor = (lsrk_sc.to_value(u.Hz) / np.array(lsrk[0]))[0]  # f_lsrk / f_topo for the same photons
    expected = np.array(lsrk[0]) / factor
    assert abs(factor - 1) > 1e-6  # the frames differ here (the test could fail)
    np.testing.assert_allclose(np.array(got[0]), expected, rtol=2e-7)  # < 60 m/s: LSRK definitions differ slightly
    same, _ = ranges_in_ms_frame(lsrk, vis, spw=0, field=field, frame="TOPO")
    assert same == lsrk


@pytest.mark.parametrize("x", ["frequency", "time"])
def test_avg_baselines_is_the_vector_average_over_baselines_read_with_casacore(alma_eb, x):
    # plotms's avgbaseline: per channel (x=frequency) or per integration (x=time), the mean of every unflagged
    # cross-correlation sample of the spw, from the MS's own rows (casacore), not from almaview's reader
    from casacore import tables

    spw = 1
    got = av.analysis.reduce_visibilities(
        av.open_ms(alma_eb.ms)[f"spw_{spw}"].ds, x=x, column="corrected", avg_baselines=True
    )
    with tables.table(str(alma_eb.ms / "DATA_DESCRIPTION"), ack=False) as t:
        ddids = [i for i, s in enumerate(t.getcol("SPECTRAL_WINDOW_ID")) if s == spw]
    with tables.table(str(alma_eb.ms), ack=False) as t:
        sel = t.query(f"DATA_DESC_ID IN {ddids} AND ANTENNA1 != ANTENNA2")
        data, flag, times = sel.getcol("CORRECTED_DATA"), sel.getcol("FLAG"), sel.getcol("TIME")
        sel.close()
    v = np.where(flag, 0, data)  # (row, chan, corr)
    assert set(got["baseline"]) == {"all"} and set(got["antenna1"]) == {"*"}
    if x == "frequency":
        mean = v.sum(axis=0) / (~flag).sum(axis=0)  # (chan, corr)
        got = got.sort_values(["correlation", "frequency_ghz"])
        assert len(got) == mean.size
        for k, corr in enumerate(sorted(set(got["correlation"]))):  # XX, YY: the MS's order here
            one = got[got["correlation"] == corr]
            np.testing.assert_allclose(one["amp"].to_numpy(), np.abs(mean[:, k]), rtol=1e-5)
    else:
        ut = np.unique(times)
        assert len(got[got["correlation"] == got["correlation"].iloc[0]]) == ut.size
        k = ut.size // 2  # one integration, first correlation: every baseline's channels
        rows = times == ut[k]
        exp = v[rows][..., 0].sum() / (~flag[rows][..., 0]).sum()
        first = got[got["correlation"] == got["correlation"].iloc[0]].reset_index(drop=True)
        assert first["amp"].iloc[k] == pytest.approx(abs(exp), rel=1e-5)
        assert first["phase_deg"].iloc[k] == pytest.approx(np.degrees(np.angle(exp)), abs=1e-3)
