"""Re-imaging from a delivery: the member's own hif_makeimages call (else heuristics), the delivered image's rms
scaled by the predicted relative sensitivity of a new weighting (-> ``threshold``), joint 12-m + 7-m imaging,
and an output folder that is never inside the delivery (:func:`almaview.imaging.tclean.check_output_folder`).

:func:`reimaging_plan` / :func:`reimaging_parameters` make a :class:`ReimagingPlan`; :mod:`almaview.imaging.tclean`
holds the parameters and the runner it uses.

Why this module is long: :class:`ReimagingPlan` is one object a user edits and runs (its summary, its repr, the
threshold from the predicted rms, joint members); its helpers that find members, fields and rms are small.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..errors import AlmaviewError
from .tclean import TcleanParameters, _spw_ids, heuristic_parameters, pipeline_parameters
from .tcleanrun import _member_root, check_output_folder

__all__ = ["ReimagingPlan", "RmsPrediction", "reimaging_plan", "reimaging_parameters", "imaging_partners"]

_KINDS = ("cont", "cube")
_README_RMS = re.compile(r"\(([^,]+),\s*(cont|cube)\s+spw([0-9_]+)\)\s*:\s*([-+0-9.eE]+)\s*(mJy|uJy|µJy|Jy)", re.I)
_README_SCALE = {"jy": 1.0, "mjy": 1e-3, "ujy": 1e-6, "µjy": 1e-6}


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
