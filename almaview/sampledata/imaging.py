"""Image a calibrated sample EB with tclean and export the products to FITS, named as ALMA names them."""

from __future__ import annotations

import shutil
from pathlib import Path

from .. import casa


def _clean_outputs(imagename: Path) -> None:
    for p in imagename.parent.glob(imagename.name + ".*"):
        shutil.rmtree(p) if p.is_dir() else p.unlink()


def image_target(
    ms: Path,
    field: str,
    outdir: Path,
    *,
    mous: str,
    cont_spw: str,
    cube_spw: str,
    imsize: int,
    cell: str,
    cube_nchan: int,
    cube_start: int,
    cube_width: int,
    niter: int = 200,
) -> dict[str, Path]:
    """A continuum (mfs) image and a line cube of ``field``, each with .pb/.mask/.pbcor, and their FITS exports."""
    tasks = casa.casatasks()
    out: dict[str, Path] = {}
    spw_tag = lambda spw: "spw" + spw.replace(",", "_")  # noqa: E731
    centre = imsize // 2
    mask = f"circle[[{centre}pix,{centre}pix],{max(4, imsize // 6)}pix]"
    for kind, spw, extra in (
        ("cont", cont_spw, dict(specmode="mfs")),
        (
            "cube",
            cube_spw,
            dict(
                specmode="cube",
                nchan=cube_nchan,
                start=cube_start,
                width=cube_width,
                outframe="LSRK",
                restfreq="230.538GHz",
            ),
        ),
    ):
        base = outdir / f"{mous}.{field}_sci.{spw_tag(spw)}.{kind}.I"
        stem = outdir / f"{mous}.{field}_sci.{spw_tag(spw)}.{kind}.I.iter1"
        _clean_outputs(stem)
        tasks.tclean(
            vis=str(ms),
            field=field,
            spw=spw,
            imagename=str(stem),
            imsize=imsize,
            cell=cell,
            datacolumn="corrected",
            weighting="briggs",
            robust=0.5,
            niter=niter,
            threshold="0mJy",
            gridder="standard",
            deconvolver="hogbom",
            usemask="user",
            mask=mask,
            pbcor=True,
            interactive=False,
            **extra,
        )
        out[kind] = Path(f"{stem}.image")
        for suffix, ext in ((".image.pbcor", "pbcor"), (".pb", "pb"), (".mask", "mask"), (".image", "image")):
            fits = Path(f"{base}.{ext}.fits")
            tasks.exportfits(imagename=f"{stem}{suffix}", fitsimage=str(fits), overwrite=True, dropdeg=False)
            out[f"{kind}_{ext}_fits"] = fits
        out[f"{kind}_fits"] = out[f"{kind}_pbcor_fits"]
    return out
