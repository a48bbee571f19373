"""QA of a Total Power (single-dish) member OUS: the criteria the single-dish pipeline scores.

- **sky calibration**: every antenna and spw has an unflagged OFF (sky) solution in the ``sdcal`` table;
- **baseline flatness**: the delivered cube's mean spectrum is flat in its line-free channels (the first
  and last quarter): the largest mean of 8-channel bins, in units of its expected scatter;
- **jy/k**: the Jy/K factors (``jyperk.csv``) lie in the range of 12 m antennas and agree between antennas.

Interferometric criteria (gains, phase transfer, bandpass, flux scale from calibrators) are "not applicable".

Examples
--------
>>> import almaview as av
>>> report = av.qa.check("2023.1.01234.S")                                        # doctest: +SKIP
>>> report.table.query("criterion == 'sky calibration'")                          # doctest: +SKIP
"""

from __future__ import annotations

import re

import numpy as np

from ..analysis.singledish import spectrum_flatness
from ..errors import AlmaviewError
from .limits import Limits
from .report import Finding, not_applicable, not_checkable

INTERFEROMETRIC = ("gains", "phase transfer", "bandpass", "flux scale")


def _verdict(figure: float, warn: float, fail: float, higher_is_worse: bool = True) -> str:
    if not np.isfinite(figure):
        return "not checkable"
    if higher_is_worse:
        return "fail" if figure >= fail else "warning" if figure > warn else "pass"
    return "fail" if figure < fail else "warning" if figure < warn else "pass"


def check_sky(eb, limits: Limits) -> list[Finding]:
    """Sky calibration of one TP EB: the fraction of (antenna, spw) with an unflagged OFF solution.

    Examples
    --------
    >>> check_sky(tp_member.ebs[0], Limits())[0].verdict          # doctest: +SKIP
    'pass'
    """
    from ..io.caltable import open_caltable

    names = [n for n in eb.caltables if "skycal" in n or n.endswith((".ps.tbl", ".otfraster.tbl", ".otf.tbl"))]
    if not names:
        return [not_checkable("sky calibration", eb.uid, "sdcal sky table", "no sky (OFF) caltable in the package")]
    sky = open_caltable(eb.caltables.get_table(names[0]).path())
    solved, total, missing = 0, 0, []
    for name, node in sky.children.items():
        ds = node.ds
        ok = ~np.asarray(ds.flag.values).all(axis=tuple(i for i, d in enumerate(ds.flag.dims) if d != "antenna"))
        for ant, good in zip(ds.antenna.values, ok):
            total += 1
            solved += bool(good)
            if not good:
                missing.append(f"{ant} {name}")
    figure = solved / total if total else float("nan")
    verdict = _verdict(figure, limits.sky_solved_warn, limits.sky_solved_fail, higher_is_worse=False)
    why = f"{solved} of {total} antenna/spw pairs have an OFF spectrum in {names[0]}" + (
        f"; none for {', '.join(missing)}" if missing else ""
    )
    return [
        Finding(
            "sky calibration",
            eb.uid,
            "OFF solutions per antenna and spw",
            verdict,
            figure,
            "fraction",
            f"warning below {limits.sky_solved_warn:g}, fail below {limits.sky_solved_fail:g}",
            limits.source("sky_solved_warn"),
            why,
        )
    ]


def check_baseline(mous, limits: Limits) -> list[Finding]:
    """Baseline flatness of every delivered TP cube (its mean spectrum over the mapped pixels).

    Examples
    --------
    >>> check_baseline(tp_member, Limits())[0].figure               # doctest: +SKIP
    """
    from ..io.image import open_image

    cubes = [i for i in mous.images if i.kind == "cube" and i.image_type in (None, "image", "pbcor", "sd")]
    if not cubes:
        return [not_checkable("baseline flatness", mous.uid, "line-free channels", "no single-dish cube delivered")]
    out = []
    for im in cubes:
        cube = open_image(im.source)
        values = np.asarray(cube.values, dtype=float)
        axis = cube.dims.index("frequency")
        values = np.moveaxis(values, axis, -1).reshape(-1, values.shape[axis])
        values = values[np.isfinite(values).all(axis=1)]
        spectrum = values.mean(axis=0)
        figure, rms = spectrum_flatness(spectrum)
        verdict = _verdict(figure, limits.baseline_flat_warn, limits.baseline_flat_fail)
        out.append(
            Finding(
                "baseline flatness",
                im.name,
                "line-free bin means / scatter",
                verdict,
                figure,
                "sigma",
                f"warning above {limits.baseline_flat_warn:g}, fail at {limits.baseline_flat_fail:g}",
                limits.source("baseline_flat_warn"),
                f"mean spectrum of {len(values)} pixels; line-free channels: the first and last quarter; "
                f"rms {rms:.3g} {cube.attrs.get('units', '')}",
            )
        )
    return out


def check_jyperk(mous, limits: Limits) -> list[Finding]:
    """The Jy/K factors of the delivery (``jyperk.csv``): in the range of 12 m antennas, and consistent.

    Examples
    --------
    >>> check_jyperk(tp_member, Limits())[0].why                      # doctest: +SKIP
    """
    from ..delivery import tarball
    from ..io.singledish import read_jyperk_text

    source = mous.aux_files.get("jyperk.csv")
    if not source:
        return [not_checkable("jy/k", mous.uid, "Jy/K factors", "no jyperk.csv in the package")]
    try:
        inside = re.match(r"^(.*\.(?:tgz|tar\.gz|tar)):(.+)$", source)  # 'archive.tgz:member' or a loose file
        if inside:
            archive, member = inside.groups()
            text = tarball.read_member(archive, member).decode("utf-8", "replace")
        else:
            text = open(source, encoding="utf-8", errors="replace").read()
        rows = read_jyperk_text(text, source)
    except (OSError, AlmaviewError) as err:
        return [not_checkable("jy/k", mous.uid, "Jy/K factors", str(err))]
    factors = np.array([r[4] for r in rows])
    if factors.size == 0:
        return [not_checkable("jy/k", mous.uid, "Jy/K factors", f"{source} lists no factors")]
    outside = [f"{r[1]} spw{r[2]} {r[3]}: {r[4]:g}" for r in rows if not limits.jyperk_min <= r[4] <= limits.jyperk_max]
    spread = float(factors.max() / factors.min() - 1) if factors.min() > 0 else float("inf")
    verdict = "fail" if outside else "warning" if spread > limits.jyperk_spread_warn else "pass"
    why = f"{factors.size} factors, median {np.median(factors):.1f} Jy/K, spread {spread:.1%}" + (
        f"; outside {limits.jyperk_min:g}-{limits.jyperk_max:g} Jy/K: {', '.join(outside)}" if outside else ""
    )
    return [
        Finding(
            "jy/k",
            mous.uid,
            "Jy/K factors (jyperk.csv)",
            verdict,
            float(np.median(factors)),
            "Jy/K",
            f"{limits.jyperk_min:g}-{limits.jyperk_max:g} Jy/K; spread above {limits.jyperk_spread_warn:.0%}"
            " is a warning",
            limits.source("jyperk_min"),
            why,
        )
    ]


def check_tp_mous(mous, limits: Limits) -> list[Finding]:
    """Every finding of a Total Power member OUS (Tsys, sky, baseline flatness, Jy/K; the rest not applicable).

    Examples
    --------
    >>> [f.criterion for f in check_tp_mous(tp_member, Limits())]          # doctest: +SKIP
    """
    from .tsys import check_tsys

    findings: list[Finding] = []
    for eb in mous.ebs:
        for criterion, step in (
            ("tsys", lambda: check_tsys(eb, limits)),
            ("sky calibration", lambda: check_sky(eb, limits)),
        ):
            try:
                findings += step()
            except AlmaviewError as err:
                findings.append(not_checkable(criterion, eb.uid, "read", str(err)))
        for criterion in INTERFEROMETRIC:
            findings.append(
                not_applicable(
                    criterion,
                    eb.uid,
                    "a Total Power EB has no interferometric gains, bandpass or calibrator flux scale",
                )
            )
    for criterion, step in (
        ("baseline flatness", lambda: check_baseline(mous, limits)),
        ("jy/k", lambda: check_jyperk(mous, limits)),
    ):
        try:
            findings += step()
        except AlmaviewError as err:
            findings.append(not_checkable(criterion, mous.uid, "read", str(err)))
    return findings
