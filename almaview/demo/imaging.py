"""Image the demo's member OUS the way hif_makeimages does: one tclean per product over all EBs.

The tclean calls are returned as (task, keyword arguments) so the
``casa_commands.log`` shows exactly what ran. Achieved beam and rms are
measured on the CASA images with casatools' image analysis (``ia.statistics``
with a LEL mask), an independent path from the FITS files the tests read.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from .. import casa

#: Pixels with a primary-beam response below this are not imaged (tclean's pblimit) nor measured.
PBLIMIT = 0.2


@dataclass
class ImageProduct:
    """One imaged product: its CASA images, the tclean call, and what was achieved."""

    kind: str  #: 'cont' or 'cube'
    field: str
    spw: str  #: '1,2,3'
    stem: Path  #: tclean imagename (.image, .pb, .mask, .image.pbcor next to it)
    call: dict
    beam_arcsec: tuple[float, float, float] = (0.0, 0.0, 0.0)  #: major, minor (arcsec), PA (deg)
    rms_jy: float = 0.0
    peak_jy: float = 0.0
    channel_width_hz: float | None = None

    @property
    def spw_tag(self) -> str:
        return "spw" + self.spw.replace(",", "_")

    def fits_stem(self, ous: str, level: str = "member") -> str:
        """The product's ALMA name without '.<type>.fits': ``member.<OUS>.`` for a member OUS's products,
        ``group.<OUS>.`` for those the pipeline made at group level (12-m and 7-m imaged together).

        Examples
        --------
        >>> ImageProduct("cont", "M100", "1,2", Path("x"), {}).fits_stem("uid___A001_X1_X2")
        'member.uid___A001_X1_X2.M100_sci.spw1_2.cont.I'
        >>> ImageProduct("cube", "M100", "0", Path("x"), {}).fits_stem("uid___A001_X1_X1", level="group")
        'group.uid___A001_X1_X1.M100_sci.spw0.cube.I'
        """
        return f"{level}.{ous}.{self.field}_sci.{self.spw_tag}.{self.kind}.I"


def _remove(stem: Path) -> None:
    for p in stem.parent.glob(stem.name + ".*"):
        shutil.rmtree(p) if p.is_dir() else p.unlink()


def measure(product: ImageProduct) -> ImageProduct:
    """Fill beam, rms and peak from the CASA images (rms outside the clean mask where pb >= PBLIMIT)."""
    ia = casa.casatools().image()
    stem = product.stem
    try:
        ia.open(f"{stem}.image")
        beam = ia.restoringbeam()
        if "major" not in beam:  # per-plane beams: take the first (cubes here use a common beam)
            beam = beam["beams"]["*0"]["*0"]
        qa = casa.casatools().quanta()
        product.beam_arcsec = (
            qa.convert(beam["major"], "arcsec")["value"],
            qa.convert(beam["minor"], "arcsec")["value"],
            qa.convert(beam["positionangle"], "deg")["value"],
        )
        lel = f'"{stem}.mask" < 0.5 && "{stem}.pb" >= {PBLIMIT}'
        stats = ia.statistics(mask=lel, robust=False, verbose=False)
        product.rms_jy = float(stats["rms"][0])
        product.peak_jy = float(ia.statistics(verbose=False)["max"][0])
        csys = ia.coordsys()
        if product.kind == "cube":
            product.channel_width_hz = abs(float(csys.increment(type="spectral")["numeric"][0]))
        csys.done()
    finally:
        ia.close()
        ia.done()
    return product


def make_images(
    mss: list[Path],
    field: str,
    outdir: Path,
    *,
    cont_spw: str,
    cube_spw: str,
    imsize: int,
    cell: str,
    cube_nchan: int,
    cube_width: int,
    restfreq: str,
    stage: dict[str, int],
    mous: str,
    thresholds: dict[str, str],
    kinds: tuple[str, ...] = ("cont", "cube"),
    gridder: str = "standard",
    niter: int = 200,
    mask_radius_px: int | None = None,
) -> list[ImageProduct]:
    """Run tclean for the continuum (mfs) and the cube of ``field`` over all ``mss``; measure each.

    ``thresholds`` ('cont', 'cube'): clean down to about twice the expected noise, as hif_makeimages does.
    ``kinds``: which of the two to make. ``gridder``: 'mosaic' where the MSs hold dishes of different
    diameters (12-m and 7-m imaged together: the pipeline's gridder heuristic), else 'standard'.
    ``mask_radius_px``: the clean mask, a circle round the image centre (default: a sixth of the image).
    """
    tasks = casa.casatasks()
    centre = imsize // 2
    mask = f"circle[[{centre}pix,{centre}pix],{mask_radius_px or max(4, imsize // 6)}pix]"
    out = []
    for kind, spw, extra in (
        ("cont", cont_spw, dict(specmode="mfs", deconvolver="hogbom", nterms=1, threshold=thresholds.get("cont"))),
        (
            "cube",
            cube_spw,
            dict(
                specmode="cube",
                deconvolver="hogbom",
                threshold=thresholds.get("cube"),
                nchan=cube_nchan,
                start=0,
                width=cube_width,
                outframe="LSRK",
                restfreq=restfreq,
                perchanweightdensity=True,
                restoringbeam="common",
            ),
        ),
    ):
        if kind not in kinds:
            continue
        tag = "spw" + spw.replace(",", "_")
        stem = outdir / f"{mous}.s{stage[kind]}_0.{field}_sci.{tag}.{kind}.I.iter1"
        _remove(stem)
        call = dict(
            vis=[str(m) for m in mss],
            field=field,
            spw=[spw] * len(mss),
            intent="OBSERVE_TARGET#ON_SOURCE",
            datacolumn="corrected",
            imagename=str(stem),
            imsize=[imsize, imsize],
            cell=[cell],
            stokes="I",
            gridder=gridder,
            pblimit=PBLIMIT,
            weighting="briggs",
            robust=0.5,
            niter=niter,
            usemask="user",
            mask=mask,
            pbcor=True,
            interactive=False,
            **extra,
        )
        try:
            tasks.tclean(**call)
        except RuntimeError:  # seen once under heavy load: "cube section failed in de/gridding"; retry once
            _remove(stem)
            tasks.tclean(**call)
        out.append(measure(ImageProduct(kind=kind, field=field, spw=spw, stem=stem, call=call)))
    return out


def export_fits(image: str | Path, fits: Path, date: str) -> dict:
    """exportfits one CASA image (no history: it holds build paths and times); return the call.

    The header's DATE becomes ``date`` (the pretend processing time) and the
    build machine's MEMREQ/MEMAVAIL cards are dropped, so a rebuild writes the
    same bytes.
    """
    from astropy.io import fits as afits

    call = dict(
        imagename=str(image),
        fitsimage=str(fits),
        velocity=False,
        optical=False,
        bitpix=-32,
        minpix=0,
        maxpix=-1,
        overwrite=True,
        dropstokes=False,
        stokeslast=True,
        history=False,
        dropdeg=False,
    )
    casa.casatasks().exportfits(**call)
    with afits.open(fits, mode="update") as hdul:
        header = hdul[0].header
        header["DATE"] = (date, "Date FITS file was written")
        for key in ("MEMREQ", "MEMAVAIL"):
            header.remove(key, ignore_missing=True, remove_all=True)
    return call


def export_products(
    products: list[ImageProduct],
    product_dir: Path,
    idx,
    project: Path,
    mous: str,
    date: str,
    *,
    level: str = "member",
) -> tuple[list[dict], list]:
    """hifa_exportdata for images: each product's pbcor, pb and mask to ``<member>/product/<name>.<type>.fits``
    (pb and mask gzipped, as the pipeline ships them), recorded in the demo's index ``idx``. ``level='group'``:
    products of the group OUS ``mous`` (``group.<OUS>.*`` in ``group.<OUS>/product/``, indexed with no member).

    Returns (one fact dict per product: kind, field, spw_tag, rms_jy, peak_jy, beam_arcsec, channel_width_hz,
    fits {type: path in the project}; the exportfits calls made). The one home of the FITS packaging of every
    interferometric member (12-m, 7-m, VLA).

    Examples
    --------
    >>> facts, calls = export_products(products, d["product"], idx, project, ACA.uid, FITS_DATE)   # doctest: +SKIP
    >>> sorted(facts[0]["fits"])                                                                   # doctest: +SKIP
    ['mask', 'pb', 'pbcor']
    """
    from .tree import gzip_file

    facts, calls = [], []
    for p in products:
        files = {}
        for suffix, itype in ((".image.pbcor", "pbcor"), (".pb", "pb"), (".mask", "mask")):
            fits = product_dir / f"{p.fits_stem(mous, level)}.{itype}.fits"
            calls.append(export_fits(f"{p.stem}{suffix}", fits, date))
            if itype != "pbcor":
                fits = gzip_file(fits, fits.with_name(fits.name + ".gz"))
            idx.add(fits, "image", mous=mous if level == "member" else None)
            files[itype] = fits.relative_to(project).as_posix()
        facts.append(
            dict(
                kind=p.kind,
                field=p.field,
                spw_tag=p.spw_tag,
                rms_jy=p.rms_jy,
                peak_jy=p.peak_jy,
                beam_arcsec=list(p.beam_arcsec),
                channel_width_hz=p.channel_width_hz,
                fits=files,
            )
        )
    return facts, calls
