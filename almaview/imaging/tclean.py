"""tclean parameters (from the pipeline's casa_commands.log or heuristics) and a stoppable runner.

:func:`pipeline_parameters` reads the ``tclean(...)`` calls of hif_makeimages from a
casa_commands.log (with :mod:`ast`, never ``eval``); :func:`heuristic_parameters`
builds them from the data (cell ~ beam/5, imsize covering the PB to 0.2, a fast
FFT size). :class:`TcleanParameters` applies user choices and prints the exact
call. :func:`run_tclean` runs it in a separate process (the kernel stays free),
follows CASA's log for major cycles and the peak residual, can be stopped, and
exports FITS. Products are written in a hidden scratch folder next to the
output and moved into place only when the run finished: a stopped or failed
run leaves nothing half-written in the output directory.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..errors import AlmaviewError, PathNotFound

__all__ = ["TcleanParameters", "TcleanFailed", "TcleanRun", "parse_casa_commands", "pipeline_parameters",
           "heuristic_parameters", "run_tclean"]

_CALL = re.compile(r"^\s*tclean\(")


class TcleanFailed(AlmaviewError):
    """tclean (run by almaview in a subprocess) failed or was stopped."""


def parse_casa_commands(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Every ``tclean(...)`` call of a casa_commands.log as a dict of keyword arguments (in file order).

    Examples
    --------
    >>> from almaview.imaging import parse_casa_commands
    >>> calls = parse_casa_commands("uid___A001_X1.hifa_calimage.casa_commands.log")   # doctest: +SKIP
    >>> calls[0]["specmode"]                                                          # doctest: +SKIP
    'mfs'
    """
    p = Path(path)
    if not p.is_file():
        raise PathNotFound(p, "does not exist (expected a pipeline casa_commands.log)")
    text = p.read_text(errors="replace")
    out = []
    buf = ""
    for line in text.splitlines():
        if not buf and not _CALL.match(line):
            continue
        buf += line.strip()
        try:
            node = ast.parse(buf, mode="eval").body
        except SyntaxError:
            continue  # a call continued on the next line
        buf = ""
        if isinstance(node, ast.Call):
            try:
                out.append({kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg})
            except ValueError:
                continue
    return out


@dataclass
class TcleanParameters:
    """Keyword arguments of one tclean call, editable, with the exact call as text (:meth:`call`)."""

    params: dict[str, Any] = field(default_factory=dict)
    origin: str = ""  #: 'casa_commands.log:<path>' or 'heuristics'

    def with_(self, **changes: Any) -> "TcleanParameters":
        """A copy with keyword arguments changed (None removes one).

        Examples
        --------
        >>> TcleanParameters({"robust": 0.5}).with_(robust=2.0, niter=0).params
        {'robust': 2.0, 'niter': 0}
        """
        new = dict(self.params)
        for k, v in changes.items():
            if v is None:
                new.pop(k, None)
            else:
                new[k] = v
        return TcleanParameters(new, self.origin)

    def apply(self, *, robust: float | None = None, uvtaper: Any = None, contdat: Any = None,
              field: str | None = None, specmode: str | None = None, nchan: int | None = None,
              width: Any = None, start: Any = None, threshold: Any = None, niter: int | None = None,
              deconvolver: str | None = None, mask: str | None = None, imagename: str | None = None,
              vis: Any = None, cell: Any = None, imsize: Any = None) -> "TcleanParameters":
        """User choices on top of the pipeline's: ``contdat`` is a ContinuumRanges whose ranges become ``spw``.

        ``threshold`` may be a number (Jy) or a CASA string.

        Examples
        --------
        >>> p = TcleanParameters({"field": "A", "spw": "1", "robust": 0.5})
        >>> p.apply(robust=-0.5, uvtaper="0.3arcsec", threshold=0.0002).params["threshold"]
        '0.2mJy'
        """
        ch: dict[str, Any] = {}
        if robust is not None:
            ch.update(weighting="briggs", robust=float(robust))
        if uvtaper is not None:
            ch["uvtaper"] = [] if not uvtaper else [uvtaper if isinstance(uvtaper, str) else f"{float(uvtaper)}arcsec"]
        if contdat is not None:
            fld = field or self.params.get("field", "")
            spws = _spw_ids(self.params.get("spw"))
            sel = contdat.spw_selection(fld, spws or None)
            nvis = len(self.params["vis"]) if isinstance(self.params.get("vis"), list) else 0
            ch["spw"] = [sel] * nvis if nvis else sel
        if threshold is not None:
            ch["threshold"] = f"{float(threshold) * 1e3:.4g}mJy" if isinstance(threshold, (int, float)) else threshold
        for k, v in dict(field=field, specmode=specmode, nchan=nchan, width=width, start=start, niter=niter,
                         deconvolver=deconvolver, mask=mask, imagename=imagename, vis=vis, cell=cell,
                         imsize=imsize).items():
            if v is not None:
                ch[k] = v
        if mask is not None:
            ch["usemask"] = "user"
        return self.with_(**ch)

    def call(self) -> str:
        """The exact tclean call, as it can be pasted into CASA.

        Examples
        --------
        >>> TcleanParameters({"vis": "a.ms", "niter": 0}).call()
        "tclean(vis='a.ms', niter=0)"
        """
        return "tclean(" + ", ".join(f"{k}={v!r}" for k, v in self.params.items()) + ")"

    def __repr__(self) -> str:
        return self.call()


def _spw_ids(spw: Any) -> list[str]:
    if spw is None:
        return []
    first = spw[0] if isinstance(spw, list) and spw else spw
    return [s.split(":")[0].strip() for s in str(first).split(",") if s.strip()]


def pipeline_parameters(casa_commands: str | os.PathLike, *, kind: str | None = None, field: str | None = None,
                        spw: str | None = None, vis_dir: str | os.PathLike | None = None) -> TcleanParameters:
    """The last hif_makeimages tclean call matching ``kind`` ('cont'/'cube' or a specmode), ``field``, ``spw``.

    ``vis_dir``: where the MSs are (the delivery's calibrated/ folder); relative vis names are resolved there.
    The imagename is reduced to its base name (re-imaging writes elsewhere).

    Examples
    --------
    >>> from almaview.imaging import pipeline_parameters
    >>> p = pipeline_parameters("x.casa_commands.log", kind="cont")   # doctest: +SKIP
    >>> p.params["cell"]                                             # doctest: +SKIP
    ['0.25arcsec']
    """
    calls = parse_casa_commands(casa_commands)
    specmode = {"cont": "mfs", "cube": "cube"}.get(kind or "", kind)
    chosen = None
    for c in calls:
        if specmode and c.get("specmode", "mfs") != specmode:
            continue
        if field and c.get("field") != field:
            continue
        if spw is not None and _spw_ids(c.get("spw")) != _spw_ids(spw):
            continue
        chosen = c
    if chosen is None:
        raise AlmaviewError(casa_commands, f"has no tclean call for kind={kind!r} field={field!r} spw={spw!r} "
                                           f"({len(calls)} tclean calls in the log)")
    params = dict(chosen)
    if vis_dir is not None:
        vis = params.get("vis")
        fix = lambda v: v if os.path.isabs(v) else str(Path(vis_dir) / v)  # noqa: E731
        params["vis"] = [fix(v) for v in vis] if isinstance(vis, list) else fix(vis)
    if "imagename" in params:
        params["imagename"] = Path(params["imagename"]).name
    params.setdefault("interactive", False)
    return TcleanParameters(params, f"casa_commands.log:{casa_commands}")


def heuristic_parameters(vis: str | os.PathLike | list, *, field: str, spw: str, specmode: str = "mfs",
                         robust: float = 0.5, imagename: str = "almaview") -> TcleanParameters:
    """Pipeline-like parameters from the data: cell ~ beam/5, imsize covering the PB to 0.2 (fast FFT size).

    Examples
    --------
    >>> from almaview.imaging import heuristic_parameters
    >>> heuristic_parameters("uid.ms", field="IRAS16293-2422", spw="1,2,3").call()   # doctest: +SKIP
    """
    from .beam import default_cell_imsize, uv_coverage

    cov = uv_coverage(vis, field=field, spw=spw)
    cell, imsize = default_cell_imsize(cov)
    vis_list = [str(v) for v in vis] if isinstance(vis, list) else str(vis)
    params: dict[str, Any] = dict(
        vis=vis_list, field=field, spw=spw, datacolumn="corrected", imagename=imagename, imsize=[imsize, imsize],
        cell=[f"{cell}arcsec"], stokes="I", specmode=specmode, gridder="standard", pblimit=0.2,
        weighting="briggs", robust=float(robust), niter=0, threshold="0mJy", deconvolver="hogbom",
        pbcor=True, interactive=False,
    )
    if specmode == "cube":
        params.update(outframe="LSRK", perchanweightdensity=True, restoringbeam="common")
    return TcleanParameters(params, "heuristics")


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
        env = dict(os.environ)
        self._stderr = open(self.workdir / "stderr.txt", "w")
        self.process = subprocess.Popen([sys.executable, "-c", _CHILD, json.dumps(spec)], cwd=self.workdir, env=env,
                                        stdout=subprocess.DEVNULL, stderr=self._stderr, start_new_session=True)

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
        rc = self.process.poll()
        if rc is None:
            return self.state
        self._stderr.close()
        if rc == 0 and (self.workdir / "DONE").exists():
            self._finish()
            self.state = "done"
        else:
            err = (self.workdir / "stderr.txt").read_text(errors="replace")[-2000:]
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.state = "failed"
            raise TcleanFailed(self.outdir, f"tclean failed (exit code {rc}): {err.strip() or 'see the CASA log'}")
        return self.state

    def _finish(self) -> None:
        for p in sorted(self.workdir.glob(self.name + ".*")):
            target = self.outdir / p.name
            if target.exists():
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            os.replace(p, target)
            self.products[p.name[len(self.name) + 1:]] = target
        shutil.copy(self.log, self.outdir / f"{self.name}.casa.log")
        shutil.rmtree(self.workdir, ignore_errors=True)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the run (SIGTERM, then SIGKILL) and remove its scratch folder: nothing is left in the output."""
        if self.state != "running":
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._stderr.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
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


def run_tclean(params: TcleanParameters, outdir: str | os.PathLike, *, wait: bool = True, progress: bool = True,
               export: Iterable[str] = ("image", "image.pbcor", "pb", "mask", "psf", "residual")) -> TcleanRun:
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

        raise CasaNotAvailable(None, "re-imaging runs tclean: install almaview's CASA extra (pip install 'almaview[casa]')")
    out = Path(outdir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    p = dict(params.params)
    vis = p.get("vis")
    absolute = lambda v: str(Path(v).expanduser().resolve())  # noqa: E731
    p["vis"] = [absolute(v) for v in vis] if isinstance(vis, list) else absolute(vis)
    p["imagename"] = Path(str(p.get("imagename", "almaview"))).name
    p.setdefault("interactive", False)
    run = TcleanRun(TcleanParameters(p, params.origin), out, tuple(export))
    if wait:
        run.wait(progress=progress)
    return run
