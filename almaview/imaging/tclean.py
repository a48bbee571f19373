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

:func:`reimaging_plan` / :func:`reimaging_parameters` start from a delivery: the
member's hif_makeimages call (else heuristics), the delivered image's rms scaled
by the predicted relative sensitivity of a new weighting (-> ``threshold``), and
an output folder that is never inside the delivery (:func:`check_output_folder`).
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..casa import CasaJob, replace_into
from ..errors import AlmaviewError, OutputInsideDelivery, PathNotFound, TcleanFailed

__all__ = [
    "TcleanParameters",
    "TcleanFailed",
    "TcleanRun",
    "parse_casa_commands",
    "pipeline_parameters",
    "heuristic_parameters",
    "run_tclean",
    "ReimagingPlan",
    "RmsPrediction",
    "reimaging_plan",
    "reimaging_parameters",
    "imaging_partners",
    "check_output_folder",
    "OutputInsideDelivery",
]

_CALL = re.compile(r"^\s*tclean\(")


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

    def apply(
        self,
        *,
        robust: float | None = None,
        uvtaper: Any = None,
        contdat: Any = None,
        field: str | None = None,
        specmode: str | None = None,
        nchan: int | None = None,
        width: Any = None,
        start: Any = None,
        threshold: Any = None,
        niter: int | None = None,
        deconvolver: str | None = None,
        mask: str | None = None,
        imagename: str | None = None,
        vis: Any = None,
        cell: Any = None,
        imsize: Any = None,
    ) -> "TcleanParameters":
        """User choices on top of the pipeline's: ``contdat`` is a ContinuumRanges whose ranges become ``spw``.

        cont.dat ranges are LSRK, but CASA reads frequencies in an ``spw`` selection in the MS's own frame
        (TOPO for ALMA): like the pipeline, each MS gets its own selection, converted with its Doppler factor
        (:func:`almaview.imaging.ms_frame_selection`). Without an MS on disk the LSRK ranges are used as given.

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
            ch["spw"] = _continuum_spw(
                contdat,
                field or self.params.get("field", ""),
                _spw_ids(self.params.get("spw")),
                vis if vis is not None else self.params.get("vis"),
            )
        if threshold is not None:
            ch["threshold"] = f"{float(threshold) * 1e3:.4g}mJy" if isinstance(threshold, (int, float)) else threshold
        for k, v in dict(
            field=field,
            specmode=specmode,
            nchan=nchan,
            width=width,
            start=start,
            niter=niter,
            deconvolver=deconvolver,
            mask=mask,
            imagename=imagename,
            vis=vis,
            cell=cell,
            imsize=imsize,
        ).items():
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


def _continuum_spw(contdat: Any, field: str, spws: list[str], vis: Any) -> Any:
    """The ``spw`` parameter from cont.dat ranges: one selection per MS, in that MS's frame (see ``apply``)."""
    vis_list = vis if isinstance(vis, list) else ([vis] if vis else [])
    if not vis_list or not all(Path(str(v)).is_dir() for v in vis_list):
        sel = contdat.spw_selection(field, spws or None)
        return [sel] * len(vis_list) if isinstance(vis, list) else sel
    from .spectrum import ms_frame_selection

    per_ms = [ms_frame_selection(contdat, str(v), field=field, spws=spws or None) for v in vis_list]
    return per_ms if isinstance(vis, list) else per_ms[0]


def _spw_ids(spw: Any) -> list[str]:
    if spw is None:
        return []
    first = spw[0] if isinstance(spw, list) and spw else spw
    return [s.split(":")[0].strip() for s in str(first).split(",") if s.strip()]


def pipeline_parameters(
    casa_commands: str | os.PathLike,
    *,
    kind: str | None = None,
    field: str | None = None,
    spw: str | None = None,
    vis_dir: str | os.PathLike | None = None,
) -> TcleanParameters:
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
        raise AlmaviewError(
            casa_commands,
            f"has no tclean call for kind={kind!r} field={field!r} spw={spw!r} ({len(calls)} tclean calls in the log)",
        )
    params = dict(chosen)
    if vis_dir is not None:
        vis = params.get("vis")
        fix = lambda v: v if os.path.isabs(v) else str(Path(vis_dir) / v)  # noqa: E731
        params["vis"] = [fix(v) for v in vis] if isinstance(vis, list) else fix(vis)
    if "imagename" in params:
        params["imagename"] = Path(params["imagename"]).name
    params.setdefault("interactive", False)
    return TcleanParameters(params, f"casa_commands.log:{casa_commands}")


def _data_column(vis: Any) -> str:
    """'corrected' when every MS has CORRECTED_DATA; 'data' for split-out calibrated MSs (``*.ms.split.cal``)."""
    from ..io.ms import open_ms

    trees = [open_ms(v) for v in (vis if isinstance(vis, list) else [vis])]
    has = all(any("VISIBILITY_CORRECTED" in t[k].ds for k in t.children if k.startswith("spw_")) for t in trees)
    return "corrected" if has else "data"


def heuristic_parameters(
    vis: str | os.PathLike | list,
    *,
    field: str,
    spw: str,
    specmode: str = "mfs",
    robust: float = 0.5,
    imagename: str = "almaview",
) -> TcleanParameters:
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
        vis=vis_list,
        field=field,
        spw=spw,
        datacolumn=_data_column(vis),
        imagename=imagename,
        imsize=[imsize, imsize],
        cell=[f"{cell}arcsec"],
        stokes="I",
        specmode=specmode,
        gridder="standard",
        pblimit=0.2,
        weighting="briggs",
        robust=float(robust),
        niter=0,
        threshold="0mJy",
        deconvolver="hogbom",
        pbcor=True,
        interactive=False,
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
    run = TcleanRun(TcleanParameters(p, params.origin), out, tuple(export))
    if wait:
        run.wait(progress=progress)
    return run


# --------------------------------------------------------------------------- from the delivery


_KINDS = ("cont", "cube")
_README_RMS = re.compile(r"\(([^,]+),\s*(cont|cube)\s+spw([0-9_]+)\)\s*:\s*([-+0-9.eE]+)\s*(mJy|uJy|µJy|Jy)", re.I)
_README_SCALE = {"jy": 1.0, "mjy": 1e-3, "ujy": 1e-6, "µjy": 1e-6}


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


@dataclass(frozen=True)
class RmsPrediction:
    """The noise expected from a re-imaging choice and how it was obtained.

    ``predicted_rms = delivered_rms * relative_sensitivity / pipeline_relative_sensitivity`` (Jy/beam);
    ``delivered_origin`` says where ``delivered_rms`` comes from (the measured delivered image or the README).
    """

    beam: Any  #: BeamPrediction for the choice
    pipeline_beam: Any  #: BeamPrediction for the pipeline's robust/uvtaper, same cell/imsize
    delivered_rms: float | None
    delivered_origin: str
    predicted_rms: float | None

    @property
    def ratio(self) -> float:
        """Relative sensitivity of the choice / that of the pipeline's weighting."""
        return float(self.beam.relative_sensitivity / self.pipeline_beam.relative_sensitivity)

    def summary(self) -> str:
        """One line: beam, predicted rms and where it comes from.

        Examples
        --------
        >>> plan.predict(robust=-0.5).summary()   # doctest: +SKIP
        'predicted beam 1.90" x 1.32" PA 63 deg; predicted rms 0.48 mJy/beam (...)'
        """
        b = self.beam
        text = f'predicted beam {b.major:.2f}" x {b.minor:.2f}" PA {b.pa:.0f} deg'
        if self.predicted_rms is None:
            return text + f"; predicted rms unknown ({self.delivered_origin})"
        return (
            text + f"; predicted rms {self.predicted_rms * 1e3:.3g} mJy/beam (= {self.delivered_rms * 1e3:.3g} "
            f"mJy/beam {self.delivered_origin} x {self.ratio:.3f}, the relative sensitivity of this weighting "
            "over the pipeline's)"
        )


class ReimagingPlan:
    """Re-imaging one member OUS, or several jointly (12-m + 7-m): the pipeline's (or heuristic) tclean call, the
    delivered image, the uv coverage (read once and cached) and the predicted beam and rms for a robust/uvtaper
    choice.

    ``also``: more member OUSs imaged together with ``member`` (e.g. the group's 7-m member beside the 12-m one).
    A joint call lists every member's calibrated MSs in ``vis``, each with its weights as calibrated (no
    re-weighting), and takes cell and imsize from the joint uv coverage (:func:`heuristic_parameters`: the
    smallest dish sets the field of view, the longest baseline the cell); the spws and the starting robust are the
    first member's. Build it with :func:`reimaging_plan`; the widget and ``almaview tclean`` share it.
    """

    def __init__(
        self,
        member: Any,
        *,
        kind: str = "cont",
        field: str | None = None,
        spw: str | None = None,
        root: str | os.PathLike | None = None,
        also: Iterable[Any] = (),
    ):
        if kind not in _KINDS:
            raise AlmaviewError(None, f"kind {kind!r}: expected 'cont' or 'cube'")
        self.member = member
        #: every member OUS imaged (the first is ``member``; more than one: joint imaging)
        self.members = [member] + [m for m in also if m is not member and m.uid != member.uid]
        self.kind = kind
        self.root = Path(root) if root is not None else _member_root(member)
        where = self.root or member.path
        fields = _fields(member, kind)
        if field is None:
            if not fields:
                raise AlmaviewError(where, f"member OUS {member.uid} has no science field to re-image")
            field = fields[0]
        elif field not in fields and field not in [f.name for f in member.fields]:
            raise AlmaviewError(
                where, f"member OUS {member.uid} has no field {field!r} (science fields: {', '.join(fields) or 'none'})"
            )
        self.field = field
        self.vis = []
        for m in self.members:
            vis = [str(eb.calibrated_ms) for eb in m.ebs if eb.calibrated_ms]
            if not vis:
                raise AlmaviewError(
                    (root and Path(root) / m.path) or m.path,
                    f"member OUS {m.uid} has no calibrated measurement set: restore the "
                    "calibration first (almaview restore) or point to the calibrated MSs",
                )
            if m is not member and field not in _fields(m, kind) and field not in [f.name for f in m.fields]:
                raise AlmaviewError(
                    (root and Path(root) / m.path) or m.path,
                    f"member OUS {m.uid} ({m.array or 'array unknown'}) has no field {field!r}: it cannot be "
                    "imaged jointly with " + member.uid,
                )
            if getattr(m, "array", None) == "TP":
                raise AlmaviewError(
                    (root and Path(root) / m.path) or m.path,
                    f"member OUS {m.uid} is a Total Power (single-dish) observation: tclean images interferometer "
                    "data; combine TP with an interferometer image by feathering (almaview.imaging.feather)",
                )
            self.vis += vis
        self.base = self._base(spw)
        self.spw = ",".join(_spw_ids(self.base.params.get("spw"))) or spw
        self.delivered = self._delivered_image()
        self._coverage: dict[tuple, Any] = {}
        self._grids: dict[tuple, Any] = {}
        self._delivered_rms: tuple[float | None, str] | None = None

    # ------------------------------------------------------------------ parameters
    @property
    def joint(self) -> bool:
        """Whether more than one member OUS is imaged (12-m + 7-m)."""
        return len(self.members) > 1

    def _base(self, spw: str | None) -> TcleanParameters:
        vis_dir = Path(self.vis[0]).parent
        pipeline = None
        for log in self.member.scripts.casa_commands:
            try:
                pipeline = pipeline_parameters(log, kind=self.kind, field=self.field, spw=spw, vis_dir=vis_dir)
                break
            except AlmaviewError:
                continue
        if pipeline is not None and not self.joint:
            return pipeline
        if spw is None and pipeline is not None:
            spw = ",".join(_spw_ids(pipeline.params.get("spw")))
        if spw is None:
            im = next((i for i in self.member.images if i.kind == self.kind and i.field == self.field and i.spws), None)
            spw = ",".join(str(s) for s in im.spws) if im else None
        arrays = "+".join(str(m.array or "?") for m in self.members) if self.joint else ""
        params = heuristic_parameters(
            self.vis if len(self.vis) > 1 else self.vis[0],
            field=self.field,
            spw=spw or "",
            specmode="mfs" if self.kind == "cont" else "cube",
            imagename=f"{self.field}.{self.kind}" + (f".{arrays}" if arrays else ""),
        )
        if pipeline is not None:  # joint: the first member's weighting and spectral set-up, the joint geometry
            keep = (
                "intent",
                "weighting",
                "robust",
                "uvtaper",
                "nchan",
                "width",
                "start",
                "outframe",
                "restfreq",
                "deconvolver",
                "nterms",
            )
            params = params.with_(**{k: pipeline.params[k] for k in keep if k in pipeline.params})
            params = TcleanParameters(params.params, f"heuristics (joint {arrays}) + {pipeline.origin}")
        elif self.joint:
            params = TcleanParameters(params.params, f"heuristics (joint {arrays})")
        return params

    def _delivered_image(self, member: Any = None) -> Any:
        member = member if member is not None else self.member
        spws = tuple(int(s) for s in _spw_ids(self.base.params.get("spw")) if s.isdigit())
        cands = [i for i in member.images if i.kind == self.kind and i.field == self.field and i.image_type == "pbcor"]
        return next((i for i in cands if tuple(i.spws or ()) == spws), cands[0] if cands else None)

    def _sibling(self, image_type: str, member: Any = None, delivered: Any = None) -> Any:
        member = member if member is not None else self.member
        d = delivered if delivered is not None else self.delivered
        return next(
            (
                i
                for i in member.images
                if d is not None
                and i.image_type == image_type
                and i.kind == d.kind
                and i.field == d.field
                and i.spws == d.spws
            ),
            None,
        )

    @property
    def pipeline_weighting(self) -> tuple[Any, Any]:
        """(robust or 'natural'/'uniform', uvtaper) of the starting call."""
        p = self.base.params
        weighting = p.get("weighting", "natural")
        robust = float(p.get("robust", 0.5)) if weighting.startswith("briggs") else weighting
        taper = p.get("uvtaper") or None
        return robust, (taper[0] if isinstance(taper, list) else taper)

    def imagename(self, robust: Any = None, uvtaper: Any = None) -> str:
        """A name saying what changed, e.g. 'IRAS16293-2422.spw1_2_3.cont.robust-0.5.taper1arcsec'.

        Examples
        --------
        >>> plan.imagename(robust=-0.5)   # doctest: +SKIP
        'IRAS16293-2422.spw1_2_3.cont.robust-0.5'
        """
        r0, t0 = self.pipeline_weighting
        r = r0 if robust is None else robust
        name = f"{self.field}.spw{self.spw.replace(',', '_')}.{self.kind}"
        if self.joint:
            name += "." + "+".join(str(m.array or m.uid) for m in self.members)
        name += f".robust{float(r):g}" if not isinstance(r, str) else f".{r}"
        t = uvtaper if uvtaper not in (None, "") else t0
        if t:
            from .beam import to_arcsec

            name += f".taper{to_arcsec(t, 'uvtaper'):g}arcsec"
        return name

    def parameters(
        self,
        *,
        robust: Any = None,
        uvtaper: Any = None,
        nsigma: float | None = None,
        contdat: Any = None,
        **choices: Any,
    ) -> TcleanParameters:
        """The starting call with the choices applied (see :meth:`TcleanParameters.apply`).

        ``nsigma``: ``threshold = nsigma x predicted rms`` (:meth:`predict`; not tclean's own ``nsigma``);
        without it the starting call's threshold is kept. ``imagename`` defaults to :meth:`imagename`.

        Examples
        --------
        >>> plan.parameters(robust=-0.5, nsigma=3, niter=500).call()   # doctest: +SKIP
        """
        threshold = choices.pop("threshold", None)
        if nsigma is not None:
            pred = self.predict(robust=robust, uvtaper=uvtaper, cell=choices.get("cell"), imsize=choices.get("imsize"))
            if pred.predicted_rms is None:
                raise AlmaviewError(
                    self.root or self.member.path, f"cannot turn nsigma into a threshold: {pred.delivered_origin}"
                )
            threshold = float(nsigma) * pred.predicted_rms
        choices.setdefault("imagename", self.imagename(robust, uvtaper))
        uvtaper = _taper_text(uvtaper)
        if uvtaper == "" and not self.pipeline_weighting[1]:
            uvtaper = None  # no taper asked, none in the starting call: leave the call as it was
        return self.base.apply(
            robust=robust if isinstance(robust, (int, float)) else None,
            uvtaper=uvtaper,
            contdat=contdat,
            threshold=threshold,
            **choices,
        ).with_(**({"weighting": robust, "robust": None} if isinstance(robust, str) else {}))

    # ------------------------------------------------------------------ prediction
    def coverage(self, spw: str | None = None) -> Any:
        """The uv coverage of the field (read once per field/spw, then cached)."""
        from .beam import uv_coverage

        key = (self.field, spw or self.spw, tuple(self.vis))
        if key not in self._coverage:
            self._coverage[key] = uv_coverage(self.vis, field=self.field, spw=spw or self.spw)
        return self._coverage[key]

    def delivered_rms(self) -> tuple[float | None, str]:
        """(rms in Jy/beam, origin): measured on the delivered image, else the README's achieved rms.

        Measured: robust rms (:func:`almaview.io.image_statistics`) of the flat-noise image pbcor x pb where
        pb >= 0.3, outside the delivered clean mask (all channels of a cube). Joint imaging: no delivered image
        holds the joint noise; the members' rms are combined as independent measurements,
        ``1/rms^2 = sum 1/rms_i^2`` (natural weighting, the same field), an estimate the summary says it is.
        """
        if self._delivered_rms is None:
            if not self.joint:
                self._delivered_rms = self._measure(self.member, self.delivered)
            else:
                got = [self._measure(m, self._delivered_image(m)) for m in self.members]
                if any(r is None or not r > 0 for r, _ in got):
                    missing = [m.uid for m, (r, _) in zip(self.members, got) if r is None or not r > 0]
                    self._delivered_rms = (None, f"no delivered rms of member {', '.join(missing)} to combine")
                else:
                    rms = sum(float(r) ** -2 for r, _ in got) ** -0.5
                    parts = "; ".join(
                        f"{m.array or m.uid} {r * 1e3:.3g} mJy/beam" for m, (r, _) in zip(self.members, got)
                    )
                    self._delivered_rms = (rms, f"combined from the members' delivered rms ({parts})")
        return self._delivered_rms

    def _measure(self, member: Any, delivered: Any) -> tuple[float | None, str]:
        import numpy as np

        from ..io.image import image_statistics, open_image

        if delivered is not None:
            pbcor = open_image(delivered.source)
            pb_item = self._sibling("pb", member, delivered)
            mask_item = self._sibling("mask", member, delivered)
            excluded = ~np.isfinite(pbcor.values)
            flat = pbcor
            if pb_item is not None:
                pb = open_image(pb_item.source).values
                flat = pbcor.copy(data=pbcor.values * pb)
                excluded |= ~np.isfinite(pb) | (np.nan_to_num(pb) < 0.3)
            if mask_item is not None:
                excluded |= np.nan_to_num(open_image(mask_item.source).values) > 0
            rms = image_statistics(flat, mask=excluded).rms
            if rms == rms and rms > 0:
                what = "flat-noise (pbcor x pb)" if pb_item is not None else "pbcor"
                return float(rms), f"measured on the delivered {what} image {Path(delivered.source).name}"
        readme = member.readme
        for line in (readme.achieved_rms or []) if readme else []:
            m = _README_RMS.search(line)
            if m and m.group(1).strip() == self.field and m.group(2).lower() == self.kind:
                return float(m.group(4)) * _README_SCALE[m.group(5).lower()], "the README's achieved rms"
        return None, "no delivered image or README rms to scale from"

    def predict(
        self, robust: Any = None, uvtaper: Any = None, *, cell: Any = None, imsize: Any = None
    ) -> RmsPrediction:
        """Predicted beam and rms for a robust/uvtaper (None: the pipeline's) on the call's cell/imsize.

        ``predicted rms = delivered rms x relative_sensitivity(choice) / relative_sensitivity(pipeline)``, both
        from :func:`almaview.imaging.predict_beam` on the cached uv coverage. A change of bandwidth (cont.dat)
        is not part of the prediction.
        """
        r0, t0 = self.pipeline_weighting
        cell = cell if cell is not None else self.base.params.get("cell")
        imsize = imsize if imsize is not None else self.base.params.get("imsize")
        new = self._beam(r0 if robust is None else robust, t0 if uvtaper is None else (uvtaper or None), cell, imsize)
        old = self._beam(r0, t0, cell, imsize)
        rms, origin = self.delivered_rms()
        predicted = None if rms is None else rms * new.relative_sensitivity / old.relative_sensitivity
        return RmsPrediction(new, old, rms, origin, predicted)

    def _beam(self, robust: Any, uvtaper: Any, cell: Any, imsize: Any) -> Any:
        """predict_beam on the cached coverage; the uv grid of a (cell, imsize) is kept too, so a new robust or
        taper costs only the weighting and the PSF fit (tens of ms instead of a second)."""
        from . import beam

        cov = self.coverage()
        key = (str(cell), str(imsize))
        try:
            if key not in self._grids:
                cell_arcsec, n = beam._resolve(cov, cell, imsize)
                self._grids[key] = (cell_arcsec, n, beam._UVGrid(cov, cell_arcsec, n))
            cell_arcsec, n, grid = self._grids[key]
            return beam._predict(cov, robust, uvtaper, cell_arcsec, n, grid)
        except (AttributeError, TypeError):  # beam.py's internals changed: the public (slower) path
            return beam.predict_beam(cov, field=self.field, robust=robust, uvtaper=uvtaper, cell=cell, imsize=imsize)

    def continuum_ranges(self) -> Any:
        """The member's delivered cont.dat as :class:`~almaview.imaging.ContinuumRanges` (None without one)."""
        from .contdat import ContinuumRanges

        if not self.member.continuum:
            return None
        blocks: dict[str, dict[str, list[str]]] = {}
        for r in self.member.continuum:
            blocks.setdefault(r.field, {}).setdefault(r.spw, []).append(r.text)
        text = "\n".join(
            f"Field: {f}\n\n"
            + "\n".join(f"SpectralWindow: {s}\n" + "\n".join(lines) + "\n" for s, lines in spws.items())
            for f, spws in blocks.items()
        )
        return ContinuumRanges.from_text(text)

    def check_output(self, outdir: str | os.PathLike) -> Path:
        """``outdir`` resolved, refused when inside this delivery (:func:`check_output_folder`)."""
        return check_output_folder(outdir, self.root)


def _taper_text(uvtaper: Any) -> Any:
    if uvtaper is None:
        return None
    if uvtaper == "" or uvtaper == []:
        return ""
    from .beam import to_arcsec

    return f"{to_arcsec(uvtaper, 'uvtaper'):g}arcsec"


def _fields(member: Any, kind: str) -> list[str]:
    out = [i.field for i in member.images if i.kind == kind and i.field]
    out += [i.field for i in member.images if i.field]
    out += [f.name for f in member.fields if any("TARGET" in x for x in f.intents)]
    return list(dict.fromkeys(out))


def _pick_member(source: Any, kind: str, field: str | None) -> tuple[Any, Path | None]:
    from ..delivery import open_delivery

    if isinstance(source, (str, os.PathLike)):
        source = open_delivery(source)
    if hasattr(source, "ebs") and hasattr(source, "scripts"):  # a member OUS
        return source, None
    members = list(getattr(source, "mous", []))
    root = Path(source.root) if getattr(source, "root", None) else None
    usable = [m for m in members if any(eb.calibrated_ms for eb in m.ebs)]
    for m in usable:
        fields = _fields(m, kind)
        if (field is None and any(i.kind == kind for i in m.images)) or (field is not None and field in fields):
            return m, root
    if field is not None:
        known = sorted({f for m in usable for f in _fields(m, kind)})
        raise AlmaviewError(
            root,
            f"has no member OUS with field {field!r} and a calibrated MS "
            f"(science fields: {', '.join(known) or 'none'})",
        )
    if usable:
        return usable[0], root
    raise AlmaviewError(root, "has no member OUS with a calibrated measurement set: restore the calibration first")


def imaging_partners(delivery: Any, member: Any) -> list[Any]:
    """The member OUSs of ``member``'s group that tclean can image jointly with it: interferometric (not TP), with a
    calibrated MS and one of ``member``'s science fields; ``member`` first, then in the delivery's order.

    Examples
    --------
    >>> import almaview as av
    >>> d = av.open_delivery(av.demo.build())                                       # doctest: +SKIP
    >>> [m.array for m in imaging_partners(d, d.mous[0])]                            # doctest: +SKIP
    ['12m', '7m']
    """
    fields = set(_fields(member, "cont")) | set(_fields(member, "cube"))
    out = [member]
    for m in getattr(delivery, "mous", []):
        if m is member or m.uid == member.uid or m.group != member.group or getattr(m, "array", None) == "TP":
            continue
        if not any(eb.calibrated_ms for eb in m.ebs):
            continue
        if fields & (set(_fields(m, "cont")) | set(_fields(m, "cube"))):
            out.append(m)
    return out


def _resolve_members(source: Any, members: Iterable[Any]) -> list[Any]:
    """``members`` (MemberOUS objects, uids or array names such as '7m') as member OUSs of ``source``."""
    known = list(getattr(source, "mous", [])) or ([source] if hasattr(source, "ebs") else [])
    out = []
    for want in members:
        if hasattr(want, "ebs"):
            out.append(want)
            continue
        hits = [m for m in known if want in (m.uid, m.array) or m.uid.endswith(str(want))]
        if len(hits) != 1:
            names = ", ".join(f"{m.uid} ({m.array})" for m in known)
            raise AlmaviewError(
                getattr(source, "root", None),
                f"member {want!r} matches {len(hits)} member OUSs (give a uid or an array name; members: {names})",
            )
        out.append(hits[0])
    return out


def reimaging_plan(
    member_or_delivery: Any,
    *,
    kind: str = "cont",
    field: str | None = None,
    spw: str | None = None,
    members: Iterable[Any] | None = None,
) -> ReimagingPlan:
    """A :class:`ReimagingPlan` for a delivery (path or ``av.open_delivery``) or one member OUS.

    With a delivery, the first member OUS with a calibrated MS and ``field`` (or an image of ``kind``) is used.
    ``members``: image these member OUSs jointly (uids, array names such as ``["12m", "7m"]``, or MemberOUS
    objects; see :func:`imaging_partners` for the ones that fit); the first one's pipeline call and delivered
    image are the reference.

    Examples
    --------
    >>> import almaview as av
    >>> plan = reimaging_plan(av.open_delivery("2023.1.01234.S"), kind="cont")   # doctest: +SKIP
    >>> plan.predict(robust=-0.5).summary()                                     # doctest: +SKIP
    >>> joint = reimaging_plan(av.demo.build(), members=["12m", "7m"])           # doctest: +SKIP
    >>> joint.parameters().params["vis"]                                         # doctest: +SKIP
    """
    if isinstance(member_or_delivery, (str, os.PathLike)):
        from ..delivery import open_delivery

        member_or_delivery = open_delivery(member_or_delivery)
    chosen = _resolve_members(member_or_delivery, members) if members else []
    if chosen:
        root = Path(member_or_delivery.root) if getattr(member_or_delivery, "root", None) else None
        if hasattr(member_or_delivery, "ebs") and hasattr(member_or_delivery, "scripts"):
            root = None
        return ReimagingPlan(chosen[0], kind=kind, field=field, spw=spw, root=root, also=chosen[1:])
    member, root = _pick_member(member_or_delivery, kind, field)
    return ReimagingPlan(member, kind=kind, field=field, spw=spw, root=root)


def reimaging_parameters(
    member_or_delivery: Any,
    *,
    kind: str = "cont",
    field: str | None = None,
    spw: str | None = None,
    robust: Any = None,
    uvtaper: Any = None,
    nsigma: float | None = None,
    members: Iterable[Any] | None = None,
    **choices: Any,
) -> TcleanParameters:
    """tclean parameters to re-image a delivery: the member's hif_makeimages call from casa_commands.log when there is
    one (else :func:`heuristic_parameters` on its calibrated MSs) with the choices applied.

    ``nsigma`` sets ``threshold = nsigma x predicted rms``, where predicted rms = the delivered image's rms (robust
    rms of pbcor x pb, pb >= 0.3, outside the clean mask; else the README's achieved rms) x the relative
    sensitivity of the new robust/uvtaper / that of the pipeline's, both from :func:`predict_beam` on the
    call's cell and imsize. ``members``: image several member OUSs jointly (see :func:`reimaging_plan`). Other
    keywords go to :meth:`TcleanParameters.apply`.

    Examples
    --------
    >>> import almaview as av
    >>> p = av.imaging.reimaging_parameters("2023.1.01234.S", kind="cont", robust=-0.5, nsigma=3)   # doctest: +SKIP
    >>> p.params["threshold"]                                                                       # doctest: +SKIP
    '1.44mJy'
    """
    plan = reimaging_plan(member_or_delivery, kind=kind, field=field, spw=spw, members=members)
    return plan.parameters(robust=robust, uvtaper=uvtaper, nsigma=nsigma, **choices)
