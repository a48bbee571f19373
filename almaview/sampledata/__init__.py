"""Realistic data built with real tools, for tests, benchmarks and the demo delivery.

- :func:`build_alma_eb`: an ALMA-like execution block simulated with CASA's
  simulator (ALMA configuration and intents), corrupted with known per-antenna
  gains, delays, bandpasses and Tsys, calibrated by casatasks exactly as the
  pipeline would, and imaged by tclean.
- :func:`build_ngc5921`: the real VLA observation of NGC 5921 shipped in the
  casadata package, imported and calibrated the classic way and imaged.

Both are cached: a build is written atomically into its directory and a second
call with the same arguments returns at once.

Examples
--------
>>> from almaview import sampledata
>>> eb = sampledata.build_alma_eb("scratch/sample")   # doctest: +SKIP
>>> eb.ms.name                                          # doctest: +SKIP
'uid___A002_Xf2a5b1_X3e7.ms'
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .. import casa
from ..cache import atomic_directory

__all__ = ["SampleEB", "build_alma_eb", "build_ngc5921", "build_tp_eb", "source_version"]


@dataclass
class SampleEB:
    """A built sample execution block and everything made from it.

    Attributes
    ----------
    ms : calibrated MS (DATA, MODEL_DATA, CORRECTED_DATA)
    caltables : role -> table ('tsys', 'antpos', 'phaseup', 'delay', 'bandpass', 'fluxscale_phase',
        'fluxscale_amp', 'fluxscale', 'phase', 'amp'; the applied ones are tsys, antpos, delay, bandpass, phase, amp;
        NGC 5921: 'bandpass', 'gain', 'fluxscale')
    images : 'cont', 'cube' (CASA images) and '<kind>_<pbcor|pb|mask|image>_fits', '<kind>_fits' (= pbcor)
    truth : injected corruptions (simulated EBs only): see :class:`almaview.sampledata.simulate.Truth`
    refant, antennas, spws (spw id -> nchan), fields (name -> intent), calapply (the applycal calls),
    fluxscale (fluxscale's returned dictionary, JSON-friendly), build_seconds
    """

    root: Path
    ms: Path
    caltables: dict[str, Path]
    images: dict[str, Path]
    refant: str
    antennas: list[str]
    spws: dict[int, int]
    fields: dict[str, str]
    calapply: list[dict] = field(default_factory=list)
    fluxscale: dict = field(default_factory=dict)
    build_seconds: float = 0.0
    eb_uid: str = ""
    truth_file: Path | None = None
    products: dict[str, Path] = field(default_factory=dict)

    @property
    def truth(self) -> dict[str, np.ndarray]:
        """The injected corruptions (empty for real observations)."""
        if self.truth_file is None:
            return {}
        with np.load(self.truth_file) as z:
            return {k: z[k] for k in z.files}

    def _to_json(self) -> dict:
        d = asdict(self)
        rel = lambda p: os.path.relpath(p, self.root) if p is not None else None  # noqa: E731
        d["root"] = "."
        d["ms"] = rel(self.ms)
        d["caltables"] = {k: rel(v) for k, v in self.caltables.items()}
        d["images"] = {k: rel(v) for k, v in self.images.items()}
        d["truth_file"] = rel(self.truth_file)
        d["products"] = {k: rel(v) for k, v in self.products.items()}
        d["spws"] = {str(k): v for k, v in self.spws.items()}
        return d

    @classmethod
    def _from_json(cls, root: Path, d: dict) -> "SampleEB":
        ab = lambda p: root / p if p is not None else None  # noqa: E731
        d = dict(d)
        d.update(
            root=root,
            ms=ab(d["ms"]),
            caltables={k: ab(v) for k, v in d["caltables"].items()},
            images={k: ab(v) for k, v in d["images"].items()},
            truth_file=ab(d["truth_file"]),
            spws={int(k): v for k, v in d["spws"].items()},
            products={k: ab(v) for k, v in d.get("products", {}).items()},
        )
        return cls(**d)


#: Recipes of one kind of sample only: a change there rebuilds that sample, not the interferometric ones.
_OWN_RECIPES = {"singledish.py"}


def source_version(*own: str) -> str:
    """A hash of the recipes: cached builds are rebuilt when their recipe changes.

    Without arguments, every module but the single-kind recipes (``singledish.py``);
    ``source_version("singledish.py")`` adds that one.

    Examples
    --------
    >>> source_version() != source_version("singledish.py")
    True
    """
    from ..cache import recipe_hash

    files = [p for p in sorted(Path(__file__).parent.glob("*.py")) if p.name not in _OWN_RECIPES or p.name in own]
    return recipe_hash(files).hexdigest()[:12]


_MANIFEST = "sampleeb.json"


def _cached(outdir: Path) -> SampleEB | None:
    manifest = outdir / _MANIFEST
    if manifest.exists():
        return SampleEB._from_json(outdir, json.loads(manifest.read_text()))
    return None


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def build_alma_eb(
    outdir: str | os.PathLike,
    *,
    scale: str = "small",
    calibrate: bool = True,
    image: bool = True,
    seed: int = 0,
    eb_uid: str = "uid___A002_Xf2a5b1_X3e7",
    mous: str = "member.uid___A001_X3571_X8a",
    progress: bool = True,
    isolate: bool = True,
    **layout_overrides,
) -> SampleEB:
    """Simulate, calibrate and image an ALMA-like EB into ``outdir`` (cached).

    ``scale='small'`` (12 antennas, ~30k rows: tests, demo) or ``'large'``
    (43 antennas, a 1920-channel spw: benchmarks; use ``calibrate=False``).
    With ``isolate`` (the default) CASA runs in a child process (see
    :func:`almaview.casa.run_isolated`).

    Examples
    --------
    >>> eb = build_alma_eb("scratch/eb")          # doctest: +SKIP
    >>> sorted(eb.caltables)                       # doctest: +SKIP
    ['amp', 'antpos', 'bandpass', 'delay', 'fluxscale', 'phase', 'phaseup', 'tsys']
    """
    from . import simulate

    outdir = Path(outdir).resolve()
    hit = _cached(outdir)
    if hit is not None:
        return hit
    if isolate:
        casa.run_isolated(
            "almaview.sampledata:build_alma_eb",
            str(outdir),
            scale=scale,
            calibrate=calibrate,
            image=image,
            seed=seed,
            eb_uid=eb_uid,
            mous=mous,
            progress=progress,
            isolate=False,
            **layout_overrides,
        )
        return _cached(outdir)
    started = time.perf_counter()
    layout = simulate.default_layout(scale, seed=seed, eb_uid=eb_uid, **layout_overrides)
    steps = (
        ["simulate", "predict", "corrupt", "syscal"]
        + (["calibrate"] if calibrate else [])
        + (["image"] if (image and calibrate) else [])
    )
    bar = tqdm(total=len(steps), desc=f"ALMA-like EB ({scale})", disable=not progress, unit="step")
    with atomic_directory(outdir) as tmp, casa.working_directory(tmp):
        ms = tmp / f"{eb_uid}.ms"
        bar.set_postfix_str("simulator")
        simulate.simulate_structure(ms, layout)
        bar.update()
        bar.set_postfix_str("ft")
        simulate.predict_model(ms, layout, tmp)
        bar.update()
        from casacore import tables

        with tables.table(str(ms / "ANTENNA"), ack=False) as t:
            antennas = list(t.getcol("NAME"))
        with tables.table(str(ms), ack=False) as t:
            t_ref = float(t.getcol("TIME", 0, 1)[0])
        truth = simulate.make_truth(layout, antennas, t_ref)
        if not calibrate:  # raw data only, as importasdm writes it (and a third of the disk)
            with tables.table(str(ms), readonly=False, ack=False) as t:
                t.removecols(["CORRECTED_DATA"])
        bar.set_postfix_str("corruptions")
        simulate.corrupt(ms, layout, truth)
        bar.update()
        if not calibrate:
            with tables.table(str(ms), readonly=False, ack=False) as t:
                t.removecols(["MODEL_DATA"])
        simulate.write_syscal(ms, layout, truth)
        bar.update()
        np.savez(tmp / "truth.npz", **truth.as_arrays())
        refant = antennas[0]
        caltables: dict[str, Path] = {}
        applies, fluxes, images = [], {}, {}
        if calibrate:
            from .calibrate import calibrate as run_calibration

            bar.set_postfix_str("casatasks calibration")
            caltables, applies, fluxes = run_calibration(ms, layout, refant, tmp)
            bar.update()
            if image:
                from .imaging import image_target

                bar.set_postfix_str("tclean")
                target = [f.name for f in layout.fields if f.intent.startswith("OBSERVE_TARGET")][0]
                line = layout.spws[0]
                images = image_target(
                    ms,
                    target,
                    tmp / "images",
                    mous=mous,
                    cont_spw="1,2,3",
                    cube_spw="0",
                    imsize=128 if scale == "small" else 256,
                    cell="0.25arcsec",
                    cube_nchan=min(60, line.nchan // 4),
                    cube_start=line.nchan // 2 - min(60, line.nchan // 4) * 2,
                    cube_width=4,
                )
                bar.update()
        bar.close()
        eb = SampleEB(
            root=tmp,
            ms=ms,
            caltables=caltables,
            images=images,
            refant=refant,
            antennas=antennas,
            spws={k: s.nchan for k, s in enumerate(layout.spws)},
            fields={f.name: f.intent for f in layout.fields},
            calapply=[asdict(a) for a in applies],
            fluxscale=_jsonable(fluxes),
            build_seconds=time.perf_counter() - started,
            eb_uid=eb_uid,
            truth_file=tmp / "truth.npz",
        )
        (tmp / _MANIFEST).write_text(json.dumps(_relocate(eb._to_json(), tmp), indent=1))
    return _cached(outdir)


def _relocate(d: dict, tmp: Path) -> dict:
    """Paths recorded inside the build (calapply tables) are made relative to the build directory."""
    for ap in d.get("calapply", []):
        ap["gaintable"] = [os.path.relpath(g, tmp) for g in ap["gaintable"]]
    return d


def build_ngc5921(
    outdir: str | os.PathLike, *, image: bool = True, progress: bool = True, isolate: bool = True
) -> SampleEB:
    """Import the real VLA NGC 5921 observation from casadata, calibrate it the classic way, and image it.

    Examples
    --------
    >>> eb = build_ngc5921("scratch/n5921")      # doctest: +SKIP
    >>> round(eb.fluxscale["1"]["fitFluxd"], 1)    # 1445+099, Jy   # doctest: +SKIP
    2.5
    """
    from .ngc5921 import build

    outdir = Path(outdir).resolve()
    hit = _cached(outdir)
    if hit is not None:
        return hit
    if isolate:
        casa.run_isolated(
            "almaview.sampledata:build_ngc5921", str(outdir), image=image, progress=progress, isolate=False
        )
        return _cached(outdir)
    started = time.perf_counter()
    with atomic_directory(outdir) as tmp, casa.working_directory(tmp):
        eb = build(tmp, image=image, progress=progress)
        eb.build_seconds = time.perf_counter() - started
        (tmp / _MANIFEST).write_text(json.dumps(eb._to_json(), indent=1))
    return _cached(outdir)


def build_tp_eb(outdir: str | os.PathLike, **kwargs) -> SampleEB:
    """An ALMA Total Power EB simulated, calibrated and imaged with CASA (see :mod:`.singledish`; cached).

    Examples
    --------
    >>> tp = build_tp_eb("scratch/tp")       # doctest: +SKIP
    >>> tp.ms.name                            # doctest: +SKIP
    'uid___A002_X10ab2c3_X3c11.ms'
    """
    from .singledish import build_tp_eb as build

    return build(outdir, **kwargs)
