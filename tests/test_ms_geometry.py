"""Array geometry and other telescopes: idle and (0,0,0) antennas, the observatory as array
reference, field directions in any casacore frame, VLA/SMA/MWA tables (python-casacore-written)."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import FK4, Galactic, SkyCoord
from casacore import tables
from casacore.measures import measures
from mstables import remove_lock_files, write_caltable, write_ms

import almaview as av
from almaview.analysis.overview import baseline_lengths, eb_facts


def _observatory_xyz(name: str) -> np.ndarray:
    """Independent: casacore measures' observatory table, converted by hand."""
    dm = measures()
    p = dm.measure(dm.observatory(name), "ITRF")
    lon, lat, r = p["m0"]["value"], p["m1"]["value"], p["m2"]["value"]
    return r * np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


@pytest.fixture(scope="module")
def sparse_array(tmp_path_factory):
    """5 antennas with data, 2 listed without data, 2 listed at (0, 0, 0)."""
    w = write_ms(
        tmp_path_factory.mktemp("geo") / "uid___A002_X9_X9.ms",
        n_antennas=5,
        idle_antennas=2,
        zero_antennas=2,
        n_times=2,
    )
    remove_lock_files(w.path)
    return w


def test_idle_and_zero_antennas_do_not_count(sparse_array):
    tree = av.open_ms(sparse_array.path)
    ants = tree["antennas"].ds
    assert ants.sizes["antenna_name"] == 9  # every ANTENNA row is listed (baseline ids refer to them)
    assert ants.has_data.values.tolist() == [True] * 5 + [False] * 4
    assert ants.position_valid.values.tolist() == [True] * 7 + [False] * 2
    assert tree.attrs["n_antennas"] == 5 and tree.attrs["n_antennas_listed"] == 9
    assert "5 antennas" in tree.attrs["summary"]
    assert eb_facts(tree)["antennas"] == 5
    pos = sparse_array.positions[:5]
    expected = [np.linalg.norm(pos[i] - pos[j]) for i in range(5) for j in range(i + 1, 5)]
    np.testing.assert_allclose(baseline_lengths(tree), expected)
    assert np.isnan(ants.ANTENNA_POSITION_ENU.values[7:]).all()
    assert np.isfinite(ants.ANTENNA_POSITION_ENU.values[:7]).all()
    assert np.abs(ants.ANTENNA_POSITION_ENU.values[:5, :2]).max() < 1000  # not 6000 km from a (0,0,0) row


def test_array_reference_is_the_observatory(sparse_array):
    ants = av.open_ms(sparse_array.path)["antennas"].ds
    np.testing.assert_allclose(ants.attrs["array_centre"], _observatory_xyz("ALMA"), atol=1e-3)
    assert "observatory" in ants.attrs["array_centre_source"]


def test_unknown_telescope_uses_the_antennas_with_data(tmp_path):
    w = write_ms(
        tmp_path / "x.ms", telescope="MYSTERY-ARRAY", n_antennas=4, idle_antennas=3, zero_antennas=1, n_times=1
    )
    ants = av.open_ms(w.path)["antennas"].ds
    np.testing.assert_allclose(ants.attrs["array_centre"], w.positions[:4].mean(axis=0))
    enu = ants.ANTENNA_POSITION_ENU.values[:4]
    assert np.abs(enu.mean(axis=0)[:2]).max() < 1.0  # the reference is in the middle of the used antennas


@pytest.mark.parametrize("frame", ["B1950", "B1950_VLA", "GALACTIC", "ECLIPTIC", "SUPERGAL", "J2000", "ICRS"])
def test_field_directions_in_any_frame_are_converted(tmp_path, frame):
    dirs = ((1.0, -0.5), (4.0, 0.3))
    w = write_ms(tmp_path / "f.ms", field_frame=frame, field_dirs=dirs, n_times=2)
    fields = av.open_ms(w.path)["fields"].ds
    got = fields.FIELD_PHASE_CENTER.values
    assert np.isfinite(got).all()
    assert list(fields.frame_in_ms.values) == [frame] * 2
    astropy_frames = {"B1950": FK4(equinox="B1950", obstime="B1950"), "GALACTIC": Galactic()}
    if frame in astropy_frames:  # independent: astropy
        for (lon, lat), (ra, dec) in zip(dirs, got):
            expected = SkyCoord(lon * u.rad, lat * u.rad, frame=astropy_frames[frame]).icrs
            assert expected.separation(SkyCoord(ra * u.rad, dec * u.rad, frame="icrs")) < 1 * u.arcsec
    if frame == "ICRS":
        np.testing.assert_allclose(got, dirs)


def test_time_dependent_frame_uses_the_field_time_and_observatory(tmp_path, capfd):
    w = write_ms(tmp_path / "azel.ms", field_frame="AZEL", field_dirs=((1.0, 0.8),), n_times=2)
    with tables.table(str(w.path / "FIELD"), readonly=False, ack=False) as t:
        t.putcol("TIME", np.array([w.times[0]]))
    capfd.readouterr()
    got = av.open_ms(w.path)["fields"].ds.FIELD_PHASE_CENTER.values[0]
    assert "SEVERE" not in capfd.readouterr().err  # casacore's leap-second log stays out of the output
    dm = measures()  # independent: casacore measures called directly
    dm.do_frame(dm.observatory("ALMA"))
    dm.do_frame(dm.epoch("UTC", f"{w.times[0]}s"))
    ref = dm.measure(dm.direction("AZEL", "1.0rad", "0.8rad"), "ICRS")
    np.testing.assert_allclose(got, [ref["m0"]["value"] % (2 * np.pi), ref["m1"]["value"]], atol=1e-6)


@pytest.mark.parametrize(
    "telescope, corr, labels",
    [
        ("VLA", (5, 6, 7, 8), ["RR", "RL", "LR", "LL"]),
        ("SMA", (9, 12), ["XX", "YY"]),
        ("MWA", (9, 10, 11, 12), ["XX", "XY", "YX", "YY"]),
    ],
)
def test_ms_of_another_telescope_opens_as_alma_does(tmp_path, telescope, corr, labels):
    w = write_ms(
        tmp_path / f"{telescope}.ms",
        telescope=telescope,
        corr_types=corr,
        n_antennas=6,
        n_times=3,
        spws=((32, 1.4e9, 1e5),),
        autocorrelations=telescope != "VLA",
    )
    tree = av.open_ms(w.path)
    ds = tree["spw_0"].ds
    assert list(ds.polarization.values) == labels
    assert tree.attrs["telescope"] == telescope and tree.attrs["n_antennas"] == 6
    np.testing.assert_allclose(tree["antennas"].ds.attrs["array_centre"], _observatory_xyz(telescope), atol=1e-3)
    with tables.table(str(w.path), ack=False) as t:  # independent: raw cells
        row = 4
        a1, a2, tm = t.getcell("ANTENNA1", row), t.getcell("ANTENNA2", row), t.getcell("TIME", row)
        expected = t.getcell("DATA", row)
    b = int(np.flatnonzero((ds.baseline_antenna1_id.values == a1) & (ds.baseline_antenna2_id.values == a2))[0])
    ti = int(np.flatnonzero(np.isclose(w.times, tm))[0])
    np.testing.assert_array_equal(ds.VISIBILITY.isel(time=ti, baseline_id=b).values, expected)
    assert ds.spw_kind == "" and ds.correlator_mode == ""


@pytest.mark.parametrize(
    "telescope, basis, receptors",
    [("VLA", "CIRCULAR", ["R", "L"]), ("SMA", "", ["X", "Y"]), ("MWA", "", ["X", "Y"]), ("EVLA", "", ["R", "L"])],
)
def test_caltable_of_another_telescope_opens_as_alma_does(tmp_path, telescope, basis, receptors):
    w = write_caltable(tmp_path / f"{telescope}.G0", telescope=telescope, pol_basis=basis, n_antennas=3)
    tree = av.open_caltable(w.path)
    ds = tree["spw_1"].ds
    assert list(ds.receptor.values) == receptors
    assert tree.attrs["telescope"] == telescope
    np.testing.assert_array_equal(ds.gain.isel(time=2, antenna_name=1).values, w.data["CPARAM"][2 * 6 + 3 + 1][0])
