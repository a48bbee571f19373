"""Running tclean: a stoppable child process that follows CASA's log (major cycles, peak residual), exports FITS, and
writes into an output folder that is never inside a delivery (:func:`check_output_folder`).

Products are written in a hidden scratch folder next to the output and moved into place only when the run
finished: a stopped or failed run leaves nothing half-written in the output directory.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from typing import Any, Iterable

from typing import TYPE_CHECKING

from ..casa import CasaJob, replace_into
from ..errors import OutputInsideDelivery, TcleanFailed

if TYPE_CHECKING:  # pragma: no cover
    from .tclean import TcleanParameters


# --------------------------------------------------------------------------- runner

_CHILD = r"""
import json, os, sys, traceback
spec = json.loads(sys.argv[1])
from almaview import casa
tools = casa.casatools()
tasks = casa.casatasks()
tasks.casalog.setlogfile(spec["log"])
tasks.casalog.showconsole(onconsole=False)
os.chdir(spec["workdir"])
params = spec["params"]
try:
    tasks.tclean(**params)
    name = params["imagename"]
    for ext in spec["export"]:
        src = name + "." + ext
        if os.path.isdir(src):
            tasks.exportfits(imagename=src, fitsimage=src + ".fits", overwrite=True, dropdeg=False)
except Exception:
    traceback.print_exc()
    sys.exit(3)
with open("DONE", "w") as f:
    f.write("ok")
"""

_MAJOR = re.compile(r"Major Cycle (\d+)", re.I)
_PEAK = re.compile(r"Peak residual \(max,min\)[^:]*:\s*([-+0-9.eE]+)", re.I)
_PEAK2 = re.compile(r"peak residual[^0-9+-]*([-+0-9.eE]+)", re.I)


class TcleanRun:
    """A tclean run in a subprocess: :meth:`poll` / :meth:`wait` / :meth:`stop`, ``products`` when done.

    ``major_cycles`` and ``peak_residual`` follow CASA's log while it runs.
    """

    def __init__(self, params: TcleanParameters, outdir: Path, export: tuple[str, ...]):
        self.params = params
        self.outdir = outdir
        self.name = str(params.params["imagename"])
        self.workdir = outdir / f".{self.name}.almaview-partial-{os.getpid()}-{int(time.time() * 1000)}"
        self.workdir.mkdir(parents=True)
        self.log = self.workdir / "casa.log"
        self.major_cycles = 0
        self.peak_residual: float | None = None
        self.products: dict[str, Path] = {}
        self.state = "running"
        self._pos = 0
        spec = {"params": params.params, "workdir": str(self.workdir), "log": str(self.log), "export": list(export)}
        self.job = CasaJob(_CHILD, spec, self.workdir)

    def _read_log(self) -> None:
        if not self.log.exists():
            return
        with open(self.log, errors="replace") as f:
            f.seek(self._pos)
            text = f.read()
            self._pos = f.tell()
        for m in _MAJOR.finditer(text):
            self.major_cycles = max(self.major_cycles, int(m.group(1)))
        peaks = _PEAK.findall(text) or _PEAK2.findall(text)
        for p in peaks:
            try:
                self.peak_residual = float(p)
            except ValueError:
                pass

    def poll(self) -> str:
        """'running', 'done', 'failed' or 'stopped' (reads new log lines; finishes the products when done)."""
        if self.state != "running":
            return self.state
        self._read_log()
        rc = self.job.exit_code()
        if rc is None:
            return self.state
        if self.job.succeeded():
            self._finish()
            self.state = "done"
        else:
            err = self.job.error_text()
            self.job.discard()
            self.state = "failed"
            raise TcleanFailed(self.outdir, f"tclean failed (exit code {rc}): {err or 'see the CASA log'}")
        return self.state

    def _finish(self) -> None:
        for p in sorted(self.workdir.glob(self.name + ".*")):
            self.products[p.name[len(self.name) + 1 :]] = replace_into(p, self.outdir / p.name)
        shutil.copy(self.log, self.outdir / f"{self.name}.casa.log")
        self.job.discard()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the run (SIGTERM, then SIGKILL) and remove its scratch folder: nothing is left in the output."""
        if self.state != "running":
            return
        self.job.stop(timeout)
        self.state = "stopped"

    def wait(self, progress: bool = True, interval: float = 0.5) -> dict[str, Path]:
        """Block until done, showing major cycles and peak residual; returns ``products`` (suffix -> path)."""
        from tqdm.auto import tqdm

        niter = int(self.params.params.get("niter", 0) or 0)
        with tqdm(desc=f"tclean {self.name}", disable=not progress, unit=" major cycles") as bar:
            try:
                while self.poll() == "running":
                    bar.n = self.major_cycles
                    if self.peak_residual is not None:
                        bar.set_postfix(peak_residual=f"{self.peak_residual:.3g}", niter=niter)
                    bar.refresh()
                    time.sleep(interval)
            except KeyboardInterrupt:
                self.stop()
                raise
            bar.n = self.major_cycles
            bar.refresh()
        return self.products


def run_tclean(
    params: TcleanParameters,
    outdir: str | os.PathLike,
    *,
    wait: bool = True,
    progress: bool = True,
    export: Iterable[str] = ("image", "image.pbcor", "pb", "mask", "psf", "residual"),
) -> TcleanRun:
    """Run tclean with ``params`` in a subprocess, writing products (and FITS exports) into ``outdir``.

    ``wait=False`` returns at once; poll ``run.poll()`` or stop with ``run.stop()``.

    Examples
    --------
    >>> from almaview.imaging import heuristic_parameters, run_tclean
    >>> p = heuristic_parameters("uid.ms", field="IRAS16293-2422", spw="1,2,3")   # doctest: +SKIP
    >>> run = run_tclean(p.apply(niter=100, imagename="reimaged"), "reimaging/")   # doctest: +SKIP
    >>> run.products["image.pbcor.fits"]                                          # doctest: +SKIP
    """
    from .. import casa

    if not casa.available():
        from ..errors import CasaNotAvailable

        raise CasaNotAvailable(
            None, "re-imaging runs tclean: install almaview's CASA extra (pip install 'almaview[casa]')"
        )
    out = check_output_folder(outdir)
    out.mkdir(parents=True, exist_ok=True)
    p = dict(params.params)
    vis = p.get("vis")
    absolute = lambda v: str(Path(v).expanduser().resolve())  # noqa: E731
    p["vis"] = [absolute(v) for v in vis] if isinstance(vis, list) else absolute(vis)
    p["imagename"] = Path(str(p.get("imagename", "almaview"))).name
    p.setdefault("interactive", False)
    from .tclean import TcleanParameters

    run = TcleanRun(TcleanParameters(p, params.origin), out, tuple(export))
    if wait:
        run.wait(progress=progress)
    return run


# --------------------------------------------------------------------------- output folders


def _member_root(member: Any) -> Path | None:
    """The project directory holding ``member`` (from any absolute path the model knows inside it)."""
    rel = Path(member.path)
    known = (
        [member.readme.path if member.readme else None]
        + [eb.calibrated_ms for eb in member.ebs]
        + [im.source for im in member.images]
        + list(member.scripts.casa_commands)
    )
    for p in known:
        if not p:
            continue
        for anc in Path(p).parents:
            if anc.as_posix().endswith("/" + rel.as_posix()):
                return anc.parents[len(rel.parts) - 1]
    return None


def _looks_like_delivery(path: Path) -> Path | None:
    for anc in [path, *path.parents]:
        if anc.name.startswith(("member.uid___", "science_goal.uid___", "group.uid___")):
            return anc
    return None


def check_output_folder(outdir: str | os.PathLike, delivery_root: str | os.PathLike | None = None) -> Path:
    """The resolved output folder, refused (:class:`OutputInsideDelivery`) inside ``delivery_root`` or inside
    any folder that looks like a delivery (``science_goal.uid___*``, ``group.uid___*``, ``member.uid___*``).

    Examples
    --------
    >>> check_output_folder("reimaging").name
    'reimaging'
    >>> check_output_folder("2023.1.01234.S/science_goal.uid___A001_X1/x")   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    almaview.errors.OutputInsideDelivery: ...: is inside the delivery ...
    """
    out = Path(outdir).expanduser().resolve()
    inside = None
    if delivery_root is not None:
        root = Path(delivery_root).expanduser().resolve()
        if out == root or root in out.parents:
            inside = root
    inside = inside or _looks_like_delivery(out)
    if inside is not None:
        raise OutputInsideDelivery(
            out,
            f"is inside the delivery {str(inside)!r}: almaview never writes into a "
            "delivery; choose an output folder outside the package (e.g. ./reimaging)",
        )
    return out
