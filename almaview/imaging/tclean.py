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

The runner lives in :mod:`almaview.imaging.tcleanrun`, re-imaging from a delivery in
:mod:`almaview.imaging.reimaging`; both are re-exported here.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AlmaviewError, OutputInsideDelivery, PathNotFound, TcleanFailed

__all__ = [
    "TcleanParameters",
    "TcleanFailed",
    "TcleanRun",
    "parse_casa_commands",
    "pipeline_parameters",
    "heuristic_parameters",
    "run_tclean",
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
    """Pipeline-like parameters from the data: cell ~ beam/5, imsize covering the PB to 0.2 (fast FFT size), and
    the pipeline's gridder heuristic: ``mosaic`` when the MSs hold dishes of more than one diameter (12-m + 7-m
    imaged jointly: each baseline gridded with its own primary beam), else ``standard``.

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
        gridder="mosaic" if len(set(cov.dish_diameters)) > 1 else "standard",
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


from .tcleanrun import TcleanRun, _member_root, check_output_folder, run_tclean  # noqa: E402, F401  (re-exported)

_MOVED_TO_REIMAGING = {
    "ReimagingPlan",
    "RmsPrediction",
    "_fields",
    "_resolve_members",
    "imaging_partners",
    "reimaging_parameters",
    "reimaging_plan",
}


def __getattr__(name: str) -> Any:  # the re-imaging names lived here; reimaging imports this module, so lazily
    if name in _MOVED_TO_REIMAGING:
        from . import reimaging

        return getattr(reimaging, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
