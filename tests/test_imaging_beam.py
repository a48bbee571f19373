"""Beam prediction against CASA itself: tclean's PSF beam (niter=0) and the imager tool's apparentsens.

Expected values come from CASA on the same data, grid and weighting, never from almaview.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

CASES = [(-2.0, None), (-0.5, None), (0.5, None), (2.0, None), (0.5, "taper")]


def _casa_answer(
    ms: Path, field: str, spw: str, cell: float, imsize: int, robust: float, taper: float | None, workdir: Path
) -> tuple[float, float, float]:
    from almaview import casa

    tasks, tools = casa.casatasks(), casa.casatools()
    shutil.rmtree(workdir, ignore_errors=True)
    with casa.working_directory(workdir):
        tasks.tclean(
            vis=str(ms),
            field=field,
            spw=spw,
            imagename="psf",
            imsize=imsize,
            cell=f"{cell}arcsec",
            specmode="mfs",
            weighting="briggs",
            robust=robust,
            niter=0,
            gridder="standard",
            uvtaper=[f"{taper}arcsec"] if taper else [],
        )
        ia = tools.image()
        ia.open("psf.psf")
        beam = ia.restoringbeam()
        ia.close()
        im = tools.imager()
        im.open(str(ms))
        im.selectvis(field=field, spw=spw)
        im.defineimage(nx=imsize, ny=imsize, cellx=f"{cell}arcsec", celly=f"{cell}arcsec")
        im.weight(type="briggs", robust=robust)
        if taper:
            im.filter(type="gaussian", bmaj=f"{taper}arcsec", bmin=f"{taper}arcsec", bpa="0deg")
        sens = im.apparentsens()
        im.close()
    shutil.rmtree(workdir, ignore_errors=True)
    return float(beam["major"]["value"]), float(beam["minor"]["value"]), float(sens[2])


@pytest.mark.parametrize("dataset", ["alma_eb", "ngc5921"])
def test_predicted_beam_and_sensitivity_match_casa(dataset, request, tmp_path):
    from almaview.imaging import beam

    eb = request.getfixturevalue(dataset)
    field, spw, cell, imsize = (
        ("IRAS16293-2422", "1,2,3", 0.25, 128) if dataset == "alma_eb" else ("N5921_2", "0", 15.0, 128)
    )
    cov = beam.uv_coverage(eb.ms, field=field, spw=spw)
    for robust, taper in CASES:
        t = 16 * cell if taper else None
        got = beam.predict_beam(cov, field=field, robust=robust, uvtaper=t, cell=f"{cell}arcsec", imsize=imsize)
        major, minor, rel = _casa_answer(eb.ms, field, spw, cell, imsize, robust, t, tmp_path / "casa")
        area_ratio = got.major * got.minor / (major * minor)
        assert abs(area_ratio - 1) < 0.05, (dataset, robust, taper, got, major, minor)
        assert got.relative_sensitivity == pytest.approx(rel, rel=0.05), (dataset, robust, taper)


def test_sweep_reads_once_and_orders_beams(alma_eb):
    from almaview.imaging import beam

    table = beam.sweep(
        alma_eb.ms,
        field="IRAS16293-2422",
        spw="1,2,3",
        robust=(-2.0, 0.0, 2.0),
        uvtaper=(None, "2arcsec"),
        cell="0.25arcsec",
        imsize=128,
        progress=False,
    )
    assert len(table) == 6
    untapered = table[table.uvtaper_arcsec.isna()]
    assert untapered.area_arcsec2.is_monotonic_increasing  # uniform -> natural: larger beam
    assert untapered.relative_sensitivity.is_monotonic_decreasing  # ... and lower noise
    assert untapered.relative_sensitivity.iloc[-1] == pytest.approx(1.0, abs=1e-3)


def test_bad_parameters_are_typed_errors(alma_eb):
    from almaview.imaging import beam

    with pytest.raises(beam.InvalidImagingParameter, match="no field 'nope'"):
        beam.uv_coverage(alma_eb.ms, field="nope")
    with pytest.raises(beam.InvalidImagingParameter, match="no spw 9"):
        beam.uv_coverage(alma_eb.ms, field="IRAS16293-2422", spw=9)
    with pytest.raises(beam.InvalidImagingParameter, match="unknown angle unit"):
        beam.to_arcsec("3parsec")
    assert beam.to_arcsec(__import__("astropy.units").units.Quantity(0.2, "arcsec")) == pytest.approx(0.2)
    assert not math.isnan(beam.predict_beam(alma_eb.ms, field=3, spw=1).major)


@pytest.mark.parametrize("dataset", ["alma_eb", "ngc5921"])
def test_uv_coverage_matches_casacore_rows(dataset, request):
    """Every (row, channel) of the field that tclean images for Stokes I (no correlation flagged, not an
    autocorrelation), with u, v = UVW * f / c and weight = sum over the parallel hands, against
    python-casacore's raw columns; small chunks split baselines and channels."""
    import numpy as np
    from casacore.tables import table

    import almaview as av
    from almaview.imaging import beam

    eb = request.getfixturevalue(dataset)
    field, spws = ("IRAS16293-2422", [1, 2, 3]) if dataset == "alma_eb" else ("N5921_2", [0])
    us, vs, ws = [], [], []
    with (
        table(str(eb.ms), ack=False) as t,
        table(f"{eb.ms}/FIELD", ack=False) as f,
        table(f"{eb.ms}/DATA_DESCRIPTION", ack=False) as dd,
        table(f"{eb.ms}/SPECTRAL_WINDOW", ack=False) as sw,
    ):
        fid = list(f.getcol("NAME")).index(field)
        dd_spw = list(dd.getcol("SPECTRAL_WINDOW_ID"))
        for s in spws:
            sel = t.query(f"FIELD_ID == {fid} && DATA_DESC_ID == {dd_spw.index(s)}")
            flag = sel.getcol("FLAG")
            w = (
                sel.getcol("WEIGHT_SPECTRUM")
                if "WEIGHT_SPECTRUM" in sel.colnames() and sel.iscelldefined("WEIGHT_SPECTRUM", 0)
                else sel.getcol("WEIGHT")[:, None, :]
            )
            g = np.where(flag.any(axis=2), 0.0, w.sum(axis=2))  # dual polarization: both are parallel hands
            uvw = sel.getcol("UVW")
            g[sel.getcol("ANTENNA1") == sel.getcol("ANTENNA2")] = 0.0
            rows, chans = np.nonzero(g > 0)
            freq = sw.getcell("CHAN_FREQ", s)
            us.append(uvw[rows, 0] * freq[chans] / beam.C_LIGHT)
            vs.append(uvw[rows, 1] * freq[chans] / beam.C_LIGHT)
            ws.append(g[rows, chans])
            sel.close()
    u, v, w = np.concatenate(us), np.concatenate(vs), np.concatenate(ws)
    tree = av.open_ms(eb.ms, chunks={"time": 16, "baseline_id": 20, "frequency": 24})
    cov = beam.uv_coverage(tree, field=field, spw=spws, max_fractional_width=1e-12)  # one sample per channel
    assert cov.n == u.size
    assert float(cov.weight.astype(float).sum()) == pytest.approx(float(w.sum()), rel=1e-6)
    np.testing.assert_allclose(np.sort(cov.u), np.sort(u), rtol=1e-6, atol=1e-3)
    np.testing.assert_allclose(np.sort(cov.v), np.sort(v), rtol=1e-6, atol=1e-3)
    np.testing.assert_allclose(np.sort(cov.weight), np.sort(w), rtol=1e-6)
    # and the pairing of u with its weight
    assert float(np.dot(cov.u.astype(float), cov.weight)) == pytest.approx(float(np.dot(u, w)), rel=1e-5, abs=1e-3)
