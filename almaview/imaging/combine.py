"""Combine an interferometer image with a single-dish (Total Power) image: CASA's ``feather`` in a subprocess.

:func:`feather` runs ``feather`` (and ``exportfits``) in a child process with its
own scratch folder next to the output; the result is moved into the output
folder only when the run finished, so a stopped or failed run leaves nothing
behind. The output folder may not be inside a delivery.

Examples
--------
>>> import almaview as av
>>> run = av.imaging.feather("12m7m.cube.image.pbcor.fits", "tp.cube.I.sd.fits", outdir="combined")  # doctest: +SKIP
>>> run.products["image.fits"]                                                                    # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .tclean import check_output_folder

_CHILD = r"""
import json, os, sys, traceback
spec = json.loads(sys.argv[1])
from almaview import casa
tasks = casa.casatasks()
try:
    for name, fits in spec["imports"]:
        tasks.importfits(fitsimage=fits, imagename=name, overwrite=True)
    ia = casa.casatools().image()
    ia.open(spec["highres"])
    per_plane = "beams" in ia.restoringbeam()
    ia.close()
    if per_plane:  # feather needs one beam: convolve every plane to the common beam first (imsmooth commonbeam)
        common = os.path.join(spec["workdir"], "highres.commonbeam.image")
        tasks.imsmooth(imagename=spec["highres"], kernel="commonbeam", outfile=common, overwrite=True)
        spec["highres"] = common
    tasks.feather(imagename=spec["imagename"], highres=spec["highres"], lowres=spec["lowres"],
                  sdfactor=spec["sdfactor"], effdishdiam=spec["effdishdiam"], lowpassfiltersd=spec["lowpassfiltersd"])
    tasks.exportfits(imagename=spec["imagename"], fitsimage=spec["imagename"] + ".fits", overwrite=True,
                     dropdeg=False)
except Exception:
    traceback.print_exc()
    sys.exit(3)
open("DONE", "w").write("ok")
"""


class FeatherRun:
    """One feather run in a subprocess: :meth:`poll`, :meth:`wait`, :meth:`stop`; ``products`` when done.

    Examples
    --------
    >>> run = feather("int.fits", "sd.fits", outdir="combined", wait=False)   # doctest: +SKIP
    >>> run.poll()                                                            # doctest: +SKIP
    'running'
    """

    def __init__(self, spec: dict, outdir: Path, name: str):
        from ..casa import CasaJob

        self.outdir = outdir
        self.name = name
        self.workdir = Path(spec["workdir"])
        self.products: dict[str, Path] = {}
        self.state = "running"
        self.job = CasaJob(_CHILD, spec, self.workdir)

    def poll(self) -> str:
        """'running', 'done', 'failed' or 'stopped'; moves the products into place when done.

        Examples
        --------
        >>> run.poll()          # doctest: +SKIP
        'done'
        """
        from ..casa import replace_into

        if self.state != "running":
            return self.state
        rc = self.job.exit_code()
        if rc is None:
            return self.state
        if self.job.succeeded():
            for suffix in ("image", "image.fits"):
                src = self.workdir / f"{self.name}.{suffix}"
                self.products[suffix] = replace_into(src, self.outdir / src.name)
            self.job.discard()
            self.state = "done"
            return self.state
        from ..errors import FeatherFailed

        err = self.job.error_text()
        self.job.discard()
        self.state = "failed"
        raise FeatherFailed(self.outdir, f"feather failed (exit code {rc}): {err or 'see the CASA log'}")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the run and remove its scratch folder: nothing is left in the output folder.

        Examples
        --------
        >>> run.stop()          # doctest: +SKIP
        """
        if self.state != "running":
            return
        self.job.stop(timeout)
        self.state = "stopped"

    def wait(self, progress: bool = True, interval: float = 0.25) -> dict[str, Path]:
        """Block until done (a progress bar of elapsed time; Ctrl-C / interrupt stops the run); return ``products``.

        Examples
        --------
        >>> run.wait()["image.fits"]     # doctest: +SKIP
        """
        from tqdm.auto import tqdm

        with tqdm(total=2, desc=f"feather {self.name}", disable=not progress, unit="step") as bar:
            bar.update()  # started
            try:
                while self.poll() == "running":
                    time.sleep(interval)
            except KeyboardInterrupt:
                self.stop()
                raise
            bar.update()
        return self.products


def feather(
    interferometer_image: str | os.PathLike,
    single_dish_image: str | os.PathLike,
    *,
    sdfactor: float = 1.0,
    outdir: str | os.PathLike = "combined",
    imagename: str | None = None,
    effdishdiam: float = -1.0,
    lowpassfiltersd: bool = False,
    wait: bool = True,
    progress: bool = True,
) -> FeatherRun:
    """Feather ``single_dish_image`` (TP) into ``interferometer_image`` (12-m and/or 7-m) with CASA, in a subprocess.

    Both images may be CASA images or FITS files (FITS are imported in the child); an interferometer
    cube with one beam per channel is first convolved to its common beam (``imsmooth``). The
    feathered image (``<imagename>.image`` and its FITS export ``<imagename>.image.fits``)
    is written into ``outdir``, which may not be inside a delivery. ``sdfactor`` scales
    the single-dish image's flux (CASA's ``sdfactor``). ``wait=False`` returns the running
    :class:`FeatherRun` at once (``poll``/``stop``).

    Raises :class:`~almaview.errors.PathNotFound` for a missing input,
    :class:`~almaview.imaging.tclean.OutputInsideDelivery` for an output inside a
    delivery and :class:`~almaview.errors.FeatherFailed` when CASA fails.

    Examples
    --------
    >>> import almaview as av
    >>> run = av.imaging.feather("member.uid___A001_X3571_X8a.IRAS16293-2422_sci.spw0.cube.I.pbcor.fits",
    ...                          "member.uid___A001_X3571_X8c.IRAS16293-2422_sci.spw0.cube.I.sd.fits",
    ...                          outdir="combined")                                    # doctest: +SKIP
    >>> av.open_image(run.products["image.fits"])                                       # doctest: +SKIP
    """
    from .. import casa
    from ..errors import CasaNotAvailable, PathNotFound

    if not casa.available():
        raise CasaNotAvailable(None, "feather runs CASA: install almaview's CASA extra (pip install 'almaview[casa]')")
    high, low = (Path(p).expanduser().resolve() for p in (interferometer_image, single_dish_image))
    for p, what in ((high, "interferometer image"), (low, "single-dish image")):
        if not p.exists():
            raise PathNotFound(p, f"does not exist (the {what} to feather)")
    out = check_output_folder(outdir)
    out.mkdir(parents=True, exist_ok=True)
    name = imagename or f"{_stem(high)}.feather"
    workdir = out / f".{name}.almaview-partial-{os.getpid()}-{int(time.time() * 1000)}"
    workdir.mkdir(parents=True)
    imports, inputs = [], []
    for p, tag in ((high, "highres"), (low, "lowres")):
        if p.is_file():  # FITS
            imports.append((str(workdir / f"{tag}.image"), str(p)))
            inputs.append(str(workdir / f"{tag}.image"))
        else:
            inputs.append(str(p))
    spec = {
        "workdir": str(workdir),
        "imports": imports,
        "highres": inputs[0],
        "lowres": inputs[1],
        "imagename": str(workdir / f"{name}.image"),
        "sdfactor": float(sdfactor),
        "effdishdiam": float(effdishdiam),
        "lowpassfiltersd": bool(lowpassfiltersd),
    }
    casa.configure()
    run = FeatherRun(spec, out, name)
    if wait:
        run.wait(progress=progress)
    return run


def _stem(p: Path) -> str:
    name = p.name
    for suffix in (".fits", ".image", ".pbcor", ".I"):
        name = name.removesuffix(suffix)
    return name.removesuffix(".image")
