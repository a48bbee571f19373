"""The group OUS's own products: the 12-m and 7-m members imaged together, as the ALMA pipeline does at group level.

What the pipeline does (read in its source): ``hif_makeimages`` names every image after the OUS it processes
(``imagename_prefix = context.project_structure.ousstatus_entity_id``), so a run over the group OUS writes
``<GOUS>.s<stage>_0.<field>_sci.spw<k>.<kind>.I.iter1.image``; its gridder heuristic takes ``mosaic`` when the
MSs hold dishes of more than one diameter (12 m and 7 m); ``hifa_exportdata`` strips the stage and iteration
(``<GOUS>.<field>_sci.spw<k>.<kind>.I.pbcor.fits``). The archive files them under ``group.<GOUS>/product/`` with a
``group.`` prefix, beside the member OUS directories (the layout of the Cycle 10 listing in
``tests/deliveries/listings/cycle10_group.tsv``).

The demo images the line spw's cube of the 12-m EBs and the 7-m EB jointly: each MS's CORRECTED_DATA with its
weights as calibrated, Briggs 0.5, the 12-m cube's channels, a cell that samples the 12-m beam and an image that
covers the 7-m primary beam to the pipeline's pblimit 0.2, cleaned (hogbom) inside a circle round the source down
to twice the joint noise (the pipeline's threshold; its auto-multithresh mask is replaced by a fixed circle, as in
the members' demo products); pbcor, pb and mask exported as FITS.
"""

from __future__ import annotations

from pathlib import Path

from .imaging import ImageProduct, export_products, make_images
from .project import ACA, ALMA, GROUP, LINE_HZ, SCIENCE_GOAL

#: The joint cube's geometry: 0.4" samples the 12-m beam (2.1" x 1.5") with ~4 pixels; 180 x 0.4" = 72" covers the
#: 7-m primary beam (FWHM 1.13 lambda / 7 m = 43" at 230 GHz) down to 0.2 (1.52 FWHM, 66").
JOINT_CELL = "0.4arcsec"
JOINT_IMSIZE = 180
#: The clean mask: a circle of 6" round the source (its line peak and 2" continuum lie within 1.5" of the centre;
#: the joint beam is ~2.3"), where the pipeline's auto-multithresh mask would be; a wider circle cleans noise.
JOINT_MASK_RADIUS_PX = 15
#: Twice the joint noise: the 12-m cube's 7 mJy/beam and the 7-m cube's 29 mJy/beam combine to ~7 mJy/beam.
JOINT_THRESHOLD = "15mJy"


def group_dir(project: Path) -> Path:
    """The group OUS's directory in the package.

    Examples
    --------
    >>> group_dir(Path("2023.1.01234.S")).as_posix()
    '2023.1.01234.S/science_goal.uid___A001_X3571_X86/group.uid___A001_X3571_X87'
    """
    return project / f"science_goal.{SCIENCE_GOAL}" / f"group.{GROUP}"


def member_mss(project: Path) -> list[Path]:
    """The calibrated MSs of the 12-m and 7-m members, in the package (the joint imaging's ``vis``)."""
    return [project / m.path / "calibrated" / f"{eb.uid}.ms" for m in (ALMA, ACA) for eb in m.ebs]


def image_group(project: Path, target: str, work: Path, *, stage: int = 25) -> list[ImageProduct]:
    """tclean the joint 12-m + 7-m cube of ``target`` over the members' calibrated MSs (in the package)."""
    return make_images(
        member_mss(project),
        target,
        work / "images_group",
        cont_spw="1,2,3",
        cube_spw="0",
        imsize=JOINT_IMSIZE,
        cell=JOINT_CELL,
        cube_nchan=60,
        cube_width=4,
        restfreq=f"{LINE_HZ / 1e9}GHz",
        stage={"cube": stage},
        mous=GROUP,
        thresholds={"cube": JOINT_THRESHOLD},
        kinds=("cube",),
        gridder="mosaic",
        niter=5000,
        mask_radius_px=JOINT_MASK_RADIUS_PX,
    )


def package_group(project: Path, idx, products: list[ImageProduct], *, date: str, work: Path) -> list[dict]:
    """Export the joint products to ``group.<GOUS>/product/group.<GOUS>.*.fits`` and record them (index facts
    under the group's uid: which members they combine, the tclean calls)."""
    from .assemble import _relative

    product_dir = group_dir(project) / "product"
    product_dir.mkdir(parents=True, exist_ok=True)
    images, _ = export_products(products, product_dir, idx, project, GROUP, date, level="group")
    idx.facts[GROUP] = dict(
        kind="group",
        members=[ALMA.uid, ACA.uid],
        arrays=["12m", "7m"],
        images=images,
        tclean=[_relative(_relative(p.call, work), project) for p in products],
    )
    return images
