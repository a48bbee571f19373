"""Real measurement sets from other projects' packages (a real MS, and UVFITS imported with CASA's
importuvfits): open_ms, the overview/flagging/visibility plots, predict_beam and ``almaview beam`` on each,
compared with python-casacore's raw columns; predict_beam against tclean's PSF on real full-polarisation
data with flags.

UVFITS are imported once per cache (a child process: almaview.casa.run_isolated) into pytest's cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest

from .conftest import PACKAGES, corpus_root, real_file

pytestmark = pytest.mark.casa

D = "demo/"
P = "pyuvsim/data/"
#: (package, member, field, kind): kind 'ok' has a beam; 'degenerate' cannot give one; 'vlbi' needs a cell/imsize
MEASUREMENT_SETS = [
    ("casa-formats-io", "casa_formats_io/casa_low_level_io/tests/data/simple.ms", "J0102+5824", "ok"),  # VLA, 2 spws
    ("casadata", D + "3C273XC1.fits", "3C273", "ok"),  # VLA, RR/RL/LR/LL, real flags
    ("casadata", D + "3DDAT.fits", None, "ok"),  # VLA spectral line, 12 channels
    ("casadata", D + "calibrater/G1CH2SP4P3S.fits", "SRC_1", "vlbi"),  # 4 x 25 m at 43 GHz, 2400 km baselines
    ("pyuvsim", P + "28mEWbl_1time_1chan.uvfits", "zenith", "degenerate"),  # one baseline, one integration
    ("pyuvsim", P + "28mEWbl_10time_10chan.uvfits", "zenith", "degenerate"),  # one baseline, 10 s track
    ("pyuvsim", P + "5km_triangle_1time_1chan.uvfits", "zenith", "ok"),  # a snapshot of three baselines
]


def _id(package: str, member: str) -> str:
    if package == "casadata":
        import importlib.metadata

        return f"casadata=={importlib.metadata.version('casadata')}:{member}"
    return f"{package}=={PACKAGES[package]}:{member}"


IDS = [_id(p, m) for p, m, *_ in MEASUREMENT_SETS]


def measurement_set(config: pytest.Config, package: str, member: str) -> Path:
    """The MS of a corpus file: the file itself (an MS) or its UVFITS imported by CASA once per cache."""
    f = real_file(config, package, member)
    if f.path.is_dir():
        return f.path
    from almaview import casa

    if not casa.available():
        pytest.skip("CASA (casatasks) is not installed: UVFITS cannot be imported")
    version = f.version
    dest = corpus_root(config) / "imported" / f"{package}-{version}" / (Path(member).stem + ".ms")
    if dest.is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".import-", dir=dest.parent))
    try:
        casa.run_isolated("casatasks:importuvfits", fitsfile=str(f.path), vis=str(work / "x.ms"))
        try:
            os.replace(work / "x.ms", dest)
        except OSError:
            if not dest.is_dir():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


@pytest.fixture(scope="session")
def real_ms(request):
    cache: dict[tuple[str, str], Path] = {}

    def get(package: str, member: str) -> Path:
        if (package, member) not in cache:
            cache[package, member] = measurement_set(request.config, package, member)
        return cache[package, member]

    return get


def _casacore_columns(ms: Path) -> dict:
    """Raw columns with python-casacore; DATA and FLAG per data description (their cell shape varies by spw,
    and getcol of a column with varying shapes corrupts python-casacore's heap)."""
    from casacore.tables import table

    out = {}
    with table(str(ms), ack=False) as t:
        out["UVW"] = t.getcol("UVW")
        out["DDID"] = t.getcol("DATA_DESC_ID")
        out["A1"], out["A2"] = t.getcol("ANTENNA1"), t.getcol("ANTENNA2")
        out["DATA"], out["FLAG"] = {}, {}
        for dd in np.unique(out["DDID"]):
            sel = t.query(f"DATA_DESC_ID == {int(dd)}")
            out["DATA"][int(dd)] = sel.getcol("DATA")
            out["FLAG"][int(dd)] = sel.getcol("FLAG")
            sel.close()
    with table(f"{ms}/DATA_DESCRIPTION", ack=False) as t:
        out["dd_spw"] = t.getcol("SPECTRAL_WINDOW_ID")
    with table(f"{ms}/SPECTRAL_WINDOW", ack=False) as t:
        out["freq"] = [t.getcell("CHAN_FREQ", i) for i in range(t.nrows())]
    with table(f"{ms}/ANTENNA", ack=False) as t:
        out["antennas"] = list(t.getcol("NAME"))
    with table(f"{ms}/FIELD", ack=False) as t:
        out["fields"] = list(t.getcol("NAME"))
    return out


@pytest.mark.parametrize("package,member,field,kind", MEASUREMENT_SETS, ids=IDS)
def test_open_ms_matches_casacore(real_ms, package, member, field, kind):
    import almaview as av

    ms = real_ms(package, member)
    raw = _casacore_columns(ms)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = av.open_ms(ms)
    assert sorted(str(a) for a in tree["antennas"].ds.antenna_name.values) == sorted(raw["antennas"])
    assert [str(n) for n in tree["fields"].ds.field_name.values] == raw["fields"]
    spw_nodes = [k for k in tree.children if k.startswith("spw_")]
    assert spw_nodes
    for key in spw_nodes:
        ds = tree[key].ds
        spw = int(ds.attrs["spw_id"])
        np.testing.assert_array_equal(ds.frequency.values, raw["freq"][spw])
        dds = [dd for dd in raw["DATA"] if raw["dd_spw"][dd] == spw]
        rows = np.isin(raw["DDID"], dds)
        data = np.concatenate([raw["DATA"][dd].ravel() for dd in dds])
        flag = np.concatenate([raw["FLAG"][dd].ravel() for dd in dds])
        vis = np.asarray(ds.VISIBILITY.values)
        vflag = np.asarray(ds.FLAG.values)
        # every unflagged sample is there once: the same count and the same sum as casacore's rows
        assert int((~vflag).sum()) == int((~flag).sum())
        np.testing.assert_allclose(np.abs(vis[~vflag]).sum(), np.abs(data[~flag]).sum(), rtol=1e-6)
        np.testing.assert_allclose(vis[~vflag].sum(), data[~flag].sum(), rtol=1e-5, atol=1e-6)
        uvw = np.asarray(ds.UVW.values).reshape(-1, 3)
        uvw = uvw[np.isfinite(uvw[:, 0])]
        np.testing.assert_allclose(
            np.sort(np.abs(uvw[:, 0])), np.sort(np.abs(raw["UVW"][rows, 0])), rtol=1e-9, atol=1e-6
        )


@pytest.mark.parametrize("package,member,field,kind", MEASUREMENT_SETS, ids=IDS)
def test_plots_on_real_ms(real_ms, package, member, field, kind):
    import almaview as av
    from almaview.analysis.flagging import flag_fractions
    from almaview.analysis.visibilities import reduce_visibilities

    ms = real_ms(package, member)
    raw = _casacore_columns(ms)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = av.open_ms(ms)
        assert av.plots.eb_summary(tree).layout is not None
        assert av.plots.antenna_positions(tree).layout is not None
        uv = av.plots.uv_coverage(tree)
        fractions = flag_fractions(tree)
        flags = av.plots.flag_summary(fractions)
        ds = tree[next(k for k in tree.children if k.startswith("spw_"))].ds
        table = reduce_visibilities(ds, column="data", x="time")
        amp = av.plots.amp_phase(table, x="time")
    # uv points: the cross-correlation rows' u (kλ at their spw's centre) reach casacore's longest |u|
    cross = raw["A1"] != raw["A2"]
    centre = np.array([float(np.mean(raw["freq"][raw["dd_spw"][dd]])) for dd in raw["DDID"]])
    longest = (np.abs(raw["UVW"][:, 0]) * centre)[cross].max() / 299_792_458.0 / 1e3
    assert float(np.abs(uv.data["u_klambda"]).max()) == pytest.approx(longest, rel=1e-3)
    # flag fractions per antenna: each cross-correlation sample counts for both of its antennas
    flagged = total = 0
    for dd, f in raw["FLAG"].items():
        on = cross[raw["DDID"] == dd]
        flagged += 2 * int(f[on].sum())
        total += 2 * int(f[on].size)
    assert int(fractions["flagged"].sum()) == flagged
    assert int(fractions["total"].sum()) == total
    assert flags.layout is not None and amp.layout is not None and len(table) > 0


@pytest.mark.parametrize("package,member,field,kind", MEASUREMENT_SETS, ids=IDS)
def test_predict_beam_and_cli_on_real_ms(real_ms, package, member, field, kind):
    import almaview as av
    from almaview import errors
    from almaview.imaging import predict_beam

    ms = real_ms(package, member)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = av.open_ms(ms)
    field = field or str(tree["fields"].ds.field_name.values[0])
    if kind == "ok":
        b = predict_beam(tree, field=field, imsize=256)  # the default cell; a small grid keeps the test fast
        assert 0 < b.minor <= b.major < b.imsize * b.cell_arcsec
    elif kind == "degenerate":
        with pytest.raises(errors.DegenerateUVCoverage, match="beam") as info:
            predict_beam(tree, field=field)
        assert str(ms) in str(info.value)
    else:
        with pytest.raises(errors.InvalidImagingParameter, match="give cell= and imsize="):
            predict_beam(tree, field=field)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "almaview",
            "beam",
            str(ms),
            "--field",
            field,
            "--robust",
            "0.5",
            *(["--imsize", "256"] if kind == "ok" else []),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    if kind == "ok":
        assert proc.returncode == 0, proc.stderr
        assert f"{b.major:.2f}" in proc.stdout or f"{b.major:.3f}" in proc.stdout, proc.stdout
    else:
        assert proc.returncode != 0
        assert "Traceback" not in proc.stderr, proc.stderr
        assert str(ms) in proc.stderr


def test_importuvfits_refuses_a_file_casa_cannot_read(request):
    """pyuvsim's 28m_triangle file has an antenna table CASA's importuvfits cannot index: the failure is
    CASA's, reported as an almaview error naming the task, not a crash of the test process."""
    from almaview import casa, errors

    f = real_file(request.config, "pyuvsim", P + "28m_triangle_10time_10chan.uvfits")
    with (
        tempfile.TemporaryDirectory(dir=corpus_root(request.config)) as work,
        pytest.raises(errors.AlmaviewError, match="importuvfits"),
    ):
        casa.run_isolated("casatasks:importuvfits", fitsfile=str(f.path), vis=str(Path(work) / "x.ms"))


# --------------------------------------------------------------------------- predict_beam vs tclean


def _tclean_psf_beam(ms: Path, field: str, cell: float, imsize: int, robust, workdir: Path) -> tuple[float, float]:
    """tclean (niter=0, Stokes I, standard gridder) in a child process; its PSF beam read with python-casacore."""
    from casacore import images

    from almaview import casa

    weighting = {"weighting": "natural"} if robust == "natural" else {"weighting": "briggs", "robust": float(robust)}
    name = workdir / "psf"
    casa.run_isolated(
        "casatasks:tclean",
        vis=str(ms),
        field=field,
        imagename=str(name),
        imsize=imsize,
        cell=f"{cell}arcsec",
        specmode="mfs",
        stokes="I",
        niter=0,
        gridder="standard",
        **weighting,
    )
    info = images.image(f"{name}.psf").imageinfo()["restoringbeam"]
    assert info["major"]["unit"] == info["minor"]["unit"] == "arcsec"
    return float(info["major"]["value"]), float(info["minor"]["value"])


@pytest.mark.parametrize("robust", ["natural", 0.5, -1.0])
def test_predict_beam_follows_tclean_on_full_polarisation_data_with_flags(real_ms, robust, tmp_path):
    """3C273XC1 (casadata's VLA demo): RR, RL, LR, LL with about a third of the samples partly flagged
    (some correlations only). tclean drops such samples from Stokes I; so does predict_beam."""
    from casacore.tables import table

    from almaview.imaging import predict_beam

    ms = real_ms("casadata", D + "3C273XC1.fits")
    with table(str(ms), ack=False) as t:
        flag = t.getcol("FLAG")  # (row, chan, corr)
    with table(f"{ms}/POLARIZATION", ack=False) as t:
        assert list(t.getcell("CORR_TYPE", 0)) == [5, 6, 7, 8]  # RR RL LR LL
    partly = flag.any(axis=2) & ~flag.all(axis=2)
    assert partly.mean() > 0.1  # real data where the rule matters
    cell, imsize = 0.79, 720
    major, minor = _tclean_psf_beam(ms, "3C273", cell, imsize, robust, tmp_path)
    got = predict_beam(ms, field="3C273", robust=robust, cell=f"{cell}arcsec", imsize=imsize)
    assert got.n_visibilities == int((~flag.any(axis=2)).sum())  # every sample with a flagged correlation is out
    assert abs(got.major * got.minor / (major * minor) - 1) < 0.02, (got, major, minor)
    assert got.major == pytest.approx(major, rel=0.02) and got.minor == pytest.approx(minor, rel=0.02)


@pytest.mark.parametrize("package,member,field,kind", MEASUREMENT_SETS, ids=IDS)
def test_explorer_on_real_ms(real_ms, package, member, field, kind):
    """The explorer (headless) opens each MS and fills its overview, visibilities and flagging tabs."""
    import almaview as av
    from almaview.plots import Panel

    ms = real_ms(package, member)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ex = av.explore(ms)
        try:
            for tab in ("overview", "visibilities", "flagging"):
                ex.show(tab)
                ex.wait()
                assert isinstance(ex.panels[tab], Panel) and len(ex.panels[tab].data) > 0, tab
        finally:
            ex.close()
