"""Beam prediction against CASA itself: tclean's PSF beam (niter=0) and the imager tool's apparentsens.

Expected values come from CASA on the same data, grid and weighting, never from almaview.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

CASES = [(-2.0, None), (-0.5, None), (0.5, None), (2.0, None), (0.5, "taper")]


def _casa_answer(ms: Path, field: str, spw: str, cell: float, imsize: int, robust: float, taper: float | None,
                 workdir: Path) -> tuple[float, float, float]:
    from almaview import casa

    tasks, tools = casa.casatasks(), casa.casatools()
    shutil.rmtree(workdir, ignore_errors=True)
    with casa.working_directory(workdir):
        tasks.tclean(vis=str(ms), field=field, spw=spw, imagename="psf", imsize=imsize, cell=f"{cell}arcsec",
                     specmode="mfs", weighting="briggs", robust=robust, niter=0, gridder="standard",
                     uvtaper=[f"{taper}arcsec"] if taper else [])
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
    field, spw, cell, imsize = (("IRAS16293-2422", "1,2,3", 0.25, 128) if dataset == "alma_eb"
                                else ("N5921_2", "0", 15.0, 128))
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

    table = beam.sweep(alma_eb.ms, field="IRAS16293-2422", spw="1,2,3", robust=(-2.0, 0.0, 2.0),
                       uvtaper=(None, "2arcsec"), cell="0.25arcsec", imsize=128, progress=False)
    assert len(table) == 6
    untapered = table[table.uvtaper_arcsec.isna()]
    assert untapered.area_arcsec2.is_monotonic_increasing        # uniform -> natural: larger beam
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
