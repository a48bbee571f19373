"""QA of the images: the demo's products against its README, and a copy of the demo whose continuum image
has twice the proposed rms (noise added with CASA's image tool in the flat-noise domain).

Expected figures come from astropy on the FITS files and numpy; the copy is hard-linked from the demo
(the one replaced file is unlinked first, so the demo is never written to).
"""

from __future__ import annotations

import gzip
import hashlib
import inspect
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

PROPOSED_CONT_JY = 0.5e-3  # the demo README's proposed continuum rms
ADDED_NOISE_JY = 1.0e-3  # makes the continuum rms about twice the proposed one


@pytest.fixture(scope="session")
def demo(demo_delivery: Path) -> Path:
    """The demo delivery, built once per test session (tests/conftest.py)."""
    return demo_delivery


def _alma_member(project: Path) -> Path:
    return next(m for m in sorted(project.glob("science_goal.*/group.*/member.*")) if any((m / "raw").iterdir()))


def make_noisy_copy(demo_project: Path, out: Path) -> Path:
    """Hard-link the demo into ``out`` and replace its continuum pbcor image by a noisier one (CASA)."""
    from almaview import casa
    from almaview.cache import atomic_directory

    project = out / demo_project.name
    if project.is_dir():
        return project
    with atomic_directory(out) as tmp:
        shutil.copytree(demo_project, tmp / demo_project.name, copy_function=os.link)
        member = _alma_member(tmp / demo_project.name)
        pbcor = next((member / "product").glob("*_sci.*.cont.I.pbcor.fits"))
        pb_gz = next((member / "product").glob("*_sci.*.cont.I.pb.fits.gz"))
        work = tmp / "work"
        work.mkdir()
        pb = work / "pb.fits"
        pb.write_bytes(gzip.decompress(pb_gz.read_bytes()))
        with casa.working_directory(work):
            tasks, ia = casa.casatasks(), casa.casatools().image()
            tasks.immath(imagename=[str(pbcor), str(pb)], expr="IM0*IM1", outfile=str(work / "flat.im"))
            ia.open(str(work / "flat.im"))
            ia.addnoise(type="normal", pars=[0.0, ADDED_NOISE_JY**2], zero=False, seeds=[7, 11])  # [mean, variance]
            ia.close()
            tasks.immath(imagename=[str(work / "flat.im"), str(pb)], expr="IM0/IM1", outfile=str(work / "noisy.im"))
            pbcor.unlink()  # a hard link: drop ours, never write through it into the demo
            tasks.exportfits(imagename=str(work / "noisy.im"), fitsimage=str(pbcor), dropdeg=False)
        shutil.rmtree(work)
    return project


@pytest.fixture(scope="session")
def noisy(request: pytest.FixtureRequest, demo: Path) -> Path:
    h = hashlib.sha256((str(demo) + inspect.getsource(make_noisy_copy)).encode()).hexdigest()[:12]
    base = Path(request.config.cache.mkdir("almaview-qa-noisy"))
    for stale in base.iterdir():
        if stale.name != h:
            shutil.rmtree(stale, ignore_errors=True)
    return make_noisy_copy(demo, base / h)


def _expected(product: Path, pb_limit: float = 0.3) -> dict:
    """rms (MAD, flat-noise image outside the mask where pb >= pb_limit), peak, min and beam with astropy."""
    from astropy.io import fits

    def data(path: Path) -> np.ndarray:
        with fits.open(path) as h:
            return np.asarray(h[0].data, dtype=float)

    stem = str(product)[: -len("pbcor.fits")]
    with fits.open(product) as h:
        hdr = h[0].header
        img = np.asarray(h[0].data, dtype=float)
    pb, mask = data(Path(stem + "pb.fits.gz")), data(Path(stem + "mask.fits.gz"))
    flat = img * pb
    region = np.isfinite(flat) & (pb >= pb_limit)
    noise = flat[region & (mask == 0)]
    rms = 1.482602218505602 * np.median(np.abs(noise - np.median(noise)))
    width = abs(hdr["CDELT3"]) if hdr.get("CTYPE3", "").startswith("FREQ") and hdr["NAXIS3"] > 1 else None
    planes = []
    if flat.ndim == 4 and flat.shape[1] > 1:  # (stokes, frequency, y, x): per-channel rms
        for k in range(flat.shape[1]):
            v = flat[0, k][region[0, k] & (mask[0, k] == 0)]
            planes.append(1.482602218505602 * np.median(np.abs(v - np.median(v))))
    return dict(
        planes=np.array(planes),
        rms=rms,
        peak=flat[region].max(),
        min=flat[region].min(),
        bmaj=hdr["BMAJ"] * 3600,
        bmin=hdr["BMIN"] * 3600,
        width=width,
    )


def _image_rows(report, name_part: str) -> dict:
    return {f.aspect: f for f in report.findings if f.criterion == "images" and name_part in f.scope}


@pytest.fixture(scope="module")
def noisy_report(noisy: Path):
    from almaview import qa

    return qa.check(noisy)


def test_image_with_twice_the_proposed_rms_fails(noisy: Path, noisy_report) -> None:
    product = next((_alma_member(noisy) / "product").glob("*_sci.*.cont.I.pbcor.fits"))
    exp = _expected(product)
    rows = _image_rows(noisy_report, product.name)
    f = rows["rms vs proposed"]
    assert f.figure == pytest.approx(exp["rms"] / PROPOSED_CONT_JY, rel=1e-5)
    assert f.figure == pytest.approx(2.0, rel=0.15)  # the injected problem, measured independently above too
    assert f.verdict == "fail"
    assert rows["target S/N"].figure == pytest.approx(exp["peak"] / exp["rms"], rel=1e-5)
    assert rows["negative features"].figure == pytest.approx(-exp["min"] / exp["peak"], rel=1e-5)


def test_cli_exits_non_zero_on_a_failing_criterion(noisy: Path, noisy_report, tmp_path: Path) -> None:
    import argparse

    from almaview.qa import cli

    parser = argparse.ArgumentParser(prog="almaview")
    cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["qa", str(noisy), "--markdown", str(tmp_path / "qa3.md")])
    assert cli.run(args) == cli.EXIT_FAIL
    body = (tmp_path / "qa3.md").read_text()
    assert "rms vs proposed" in body and "## Failing criteria" in body
    assert any((tmp_path / "qa3_evidence").glob("fail_*images_rms-vs-proposed.png"))


def test_demo_images_against_astropy(demo: Path) -> None:
    from almaview.delivery import open_delivery
    from almaview.qa import Limits
    from almaview.qa.images import check_images, parse_proposed_beam, parse_proposed_rms

    d = open_delivery(demo)
    for mous in d.mous:
        findings = check_images(mous, Limits())
        for im in (i for i in mous.images if i.image_type == "pbcor"):
            exp = _expected(Path(im.source))
            rows = {f.aspect: f for f in findings if f.scope == im.name}
            prop = parse_proposed_rms(mous.readme.proposed_rms)
            tag = "cube" if im.kind == "cube" else "continuum"
            p = next((x for x in prop if x["tag"] and tag in x["tag"]), prop[0] if len(prop) == 1 else None)
            rms = exp["rms"] * (np.sqrt(exp["width"] / p["bandwidth_hz"]) if p["bandwidth_hz"] and exp["width"] else 1)
            assert rows["rms vs proposed"].figure == pytest.approx(rms / p["rms_jy"], rel=1e-5), im.name
            if len(exp["planes"]):  # the cube's evidence: every channel's rms against the proposed one
                ev = rows["rms vs proposed"].evidence.data
                np.testing.assert_allclose(ev["ratio"], exp["planes"] * (rms / exp["rms"]) / p["rms_jy"], rtol=1e-5)
            beam = parse_proposed_beam(mous.readme.proposed_beam)
            assert rows["beam vs proposed"].figure == pytest.approx(exp["bmaj"] * exp["bmin"] / beam**2, rel=1e-6)
            assert rows["target S/N"].figure == pytest.approx(exp["peak"] / exp["rms"], rel=1e-5)
