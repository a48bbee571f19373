"""QA of a Total Power (single-dish) member OUS: the criteria the single-dish pipeline scores.

- **sky calibration**: every antenna and spw has an unflagged OFF (sky) solution in the ``sdcal`` table
  (almaview's check), and the ON - OFF elevation difference that the pipeline's ``hsd_skycal`` scores
  (:func:`sky_elevation_difference`);
- **baseline flatness**: scored as the pipeline's ``hsd_baseline`` scores it (``score_sd_baseline_quality``):
  the binned statistic of :func:`almaview.analysis.binned_flatness` on the delivered cube's mean spectrum
  with its middle half (where the line is) masked, and the pipeline's score of it
  (:func:`pipeline_flatness_score`) beside the finding;
- **jy/k**: the Jy/K factors (``jyperk.csv``) lie in the range of 12 m antennas and agree between antennas
  (almaview's check: the pipeline scores no range), and every antenna, spw and polarization of the MS has one
  (what the pipeline's ``hsd_k2jycal`` scores, :func:`jyperk_coverage`).

Where almaview computes a figure as the pipeline does, the finding carries the pipeline's score (``score``,
the "pipeline score" column of the QA table).

Interferometric criteria (gains, phase transfer, bandpass, flux scale from calibrators) are "not applicable".

Examples
--------
>>> import almaview as av
>>> report = av.qa.check("2023.1.01234.S")                                        # doctest: +SKIP
>>> report.table.query("criterion == 'sky calibration'")                          # doctest: +SKIP
"""

from __future__ import annotations

import os
import re

import numpy as np

from ..analysis.singledish import binned_flatness
from ..constants import ANTENNA_DIM
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


#: The pipeline's baseline-flatness ramp (``score_sd_baseline_quality``, PIPEREQ-168): the score is 1.0 up to a
#: binned range of 1.8 rms, falls linearly to 0.33 at 3.6 rms and stays there beyond.
FLATNESS_RAMP = ((1.8, 3.6), (1.0, 0.33))


def pipeline_flatness_score(diff_ratio: float) -> float:
    """The ALMA pipeline's baseline-flatness QA score of a binned range ``diff_ratio`` (bin max - bin min, in rms).

    Mirrors ``score_sd_baseline_quality`` of the pipeline's ``pipeline/qa/scorecalculator.py`` (the ramp of
    :data:`FLATNESS_RAMP`, clamped at its ends); the pipeline calls a score at or below 0.9 "Moderate" and at or
    below 0.66 "Poor" baseline flatness (:func:`pipeline_flatness_quality`). NaN in, NaN out.

    Examples
    --------
    >>> pipeline_flatness_score(1.0), pipeline_flatness_score(2.7), pipeline_flatness_score(10.0)
    (1.0, 0.665, 0.33)
    """
    (x0, x1), (y0, y1) = FLATNESS_RAMP
    if not np.isfinite(diff_ratio):
        return float("nan")
    return round(float(np.interp(diff_ratio, [x0, x1], [y0, y1])), 12)


def pipeline_flatness_quality(score: float) -> str:
    """'Good', 'Moderate' or 'Poor' baseline flatness, as the pipeline words a score.

    Examples
    --------
    >>> pipeline_flatness_quality(0.95), pipeline_flatness_quality(0.9), pipeline_flatness_quality(0.5)
    ('Good', 'Moderate', 'Poor')
    """
    return "Poor" if score <= 0.66 else "Moderate" if score <= 0.9 else "Good"


def line_free_mask(n_channels: int) -> np.ndarray:
    """The channels a delivered cube's flatness leaves out (True): its middle half, where the target's line is.

    The pipeline masks the lines its line finder detected; a delivery does not record them, so almaview takes
    the first and last quarter of the cube as the baseline.

    Examples
    --------
    >>> np.flatnonzero(line_free_mask(8))
    array([2, 3, 4, 5])
    """
    mask = np.zeros(n_channels, dtype=bool)
    q = n_channels // 4
    mask[q : n_channels - q] = True
    return mask


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
        ok = ~np.asarray(ds.flag.values).all(axis=tuple(i for i, d in enumerate(ds.flag.dims) if d != "antenna_name"))
        for ant, good in zip(ds.antenna_name.values, ok):
            total += 1
            solved += bool(good)
            if not good:
                missing.append(f"{ant} {name}")
    figure = solved / total if total else float("nan")
    verdict = _verdict(figure, limits.sky_solved_warn, limits.sky_solved_fail, higher_is_worse=False)
    why = f"{solved} of {total} antenna/spw pairs have an OFF spectrum in {names[0]}" + (
        f"; none for {', '.join(missing)}" if missing else ""
    )
    findings = [
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
    if eb.calibrated_ms and os.path.isdir(eb.calibrated_ms):
        findings.append(sky_elevation_difference(eb, sky, names[0]))
    return findings


#: The pipeline's limit on the ON - OFF elevation difference (``hsd_skycal``: ELEVATION_DIFFERENCE_THRESHOLD).
ELEVATION_DIFFERENCE_DEG = 3.0


def sky_elevation_difference(eb, sky, table_name: str = "") -> Finding:
    """The largest ON - OFF elevation difference of a TP EB, scored as the pipeline's ``hsd_skycal`` QA scores it
    (``score_sd_skycal_elevation_difference``: 1.0 below 3 deg, 0.8 at or above; almaview: 'warning').

    ``sky``: the EB's sky caltable (:func:`almaview.open_caltable`); elevations from the MS's pointing
    (:func:`almaview.analysis.tp_elevations`), differences per antenna and spw as
    :func:`almaview.analysis.on_off_elevation_difference` gives them.

    Examples
    --------
    >>> sky_elevation_difference(tp_member.ebs[0], open_caltable(sky_table)).score        # doctest: +SKIP
    1.0
    """
    from ..analysis.singledish import on_off_elevation_difference, tp_elevations
    from ..io.ms import open_ms

    tree = open_ms(eb.calibrated_ms)
    positions = tree["antennas"].ds.ANTENNA_POSITION
    worst, where, n = 0.0, "", 0
    for name, node in sky.children.items():
        if name not in tree.children or "POINTING_DIRECTION" not in tree[name].ds:
            continue
        cal = node.ds
        flag = np.asarray(cal.flag.transpose("time", ANTENNA_DIM, ...).values)
        solved = ~flag.reshape(cal.sizes["time"], cal.sizes[ANTENNA_DIM], -1).all(axis=2)  # (time, antenna)
        elevations = tp_elevations(tree[name].ds, positions)
        for k, ant in enumerate(cal[ANTENNA_DIM].values):
            times = cal.time.values[solved[:, k]]
            diff = on_off_elevation_difference(elevations[elevations.antenna == str(ant)], times)
            n += len(diff)
            if len(diff) and float(np.abs(diff.difference_deg).max()) > worst:
                worst = float(np.abs(diff.difference_deg).max())
                where = f"{ant} {name}"
    if n == 0:
        return not_checkable(
            "sky calibration", eb.uid, "ON - OFF elevation (pipeline hsd_skycal)", "no ON integration near a solution"
        )
    score = 1.0 if worst < ELEVATION_DIFFERENCE_DEG else 0.8
    return Finding(
        "sky calibration",
        eb.uid,
        "ON - OFF elevation (pipeline hsd_skycal)",
        "pass" if score == 1.0 else "warning",
        worst,
        "deg",
        f"{ELEVATION_DIFFERENCE_DEG:g} deg or more scores 0.8 (a warning)",
        "ALMA pipeline hsd_skycal QA (score_sd_skycal_elevation_difference, ELEVATION_DIFFERENCE_THRESHOLD)",
        f"largest |ON - OFF elevation| {worst:.3f} deg ({where}) over {n} ON integration / OFF solution pairs "
        f"(each ON integration with the sky solution before and after it) of {table_name or 'the sky table'}",
        score=score,
    )


def check_baseline(mous, limits: Limits) -> list[Finding]:
    """Baseline flatness of every delivered TP cube, scored as the single-dish pipeline scores it.

    The cube's mean spectrum over its mapped pixels (the pipeline's "spatially averaged spectrum") goes through
    :func:`almaview.analysis.binned_flatness` with :func:`line_free_mask`; the figure is the binned range in rms,
    the score :func:`pipeline_flatness_score`, the verdict from the score: 'warning' at or below
    ``limits.baseline_flat_warn`` (the pipeline's "Moderate"), 'fail' at or below ``limits.baseline_flat_fail``
    ("Poor").

    Examples
    --------
    >>> check_baseline(tp_member, Limits())[0].score               # doctest: +SKIP
    1.0
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
        stat = binned_flatness(spectrum, line_free_mask(spectrum.size))
        if not stat.valid:
            out.append(
                not_checkable(
                    "baseline flatness", im.name, "binned line-free spectrum", "fewer than two line-free bins"
                )
            )
            continue
        score = pipeline_flatness_score(stat.diff_ratio)
        verdict = (
            "fail"
            if score <= limits.baseline_flat_fail
            else "warning"
            if score <= limits.baseline_flat_warn
            else "pass"
        )
        units = cube.attrs.get("units", "")
        out.append(
            Finding(
                "baseline flatness",
                im.name,
                "binned range / rms (pipeline hsd_baseline)",
                verdict,
                stat.diff_ratio,
                "rms",
                f"pipeline score <= {limits.baseline_flat_warn:g} is a warning (Moderate), "
                f"<= {limits.baseline_flat_fail:g} a fail (Poor)",
                limits.source("baseline_flat_warn"),
                f"{pipeline_flatness_quality(score)} baseline flatness: mean spectrum of {len(values)} pixels, "
                f"{stat.nbin} bins ({sum(np.isfinite(stat.bin_means))} line-free: the first and last quarter), "
                f"bin means {stat.min_ratio:+.2f} to {stat.max_ratio:+.2f} rms, rms {stat.rms:.3g} {units}",
                score=score,
            )
        )
    return out


def check_jyperk(mous, limits: Limits) -> list[Finding]:
    """The Jy/K factors of the delivery (``jyperk.csv``): in the range of 12 m antennas, and consistent (almaview's
    own check: the pipeline scores no range), then, per EB whose MS is delivered, :func:`jyperk_coverage` (what
    the pipeline scores).

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
    ] + [jyperk_coverage(eb, rows) for eb in mous.ebs if eb.calibrated_ms and os.path.isdir(eb.calibrated_ms)]


def missing_jyperk(rows, ms_name: str, wanted) -> list[str]:
    """The (antenna, spw, polarization) of ``wanted`` that ``rows`` (of :func:`almaview.io.read_jyperk_text`)
    give no factor for in the MS ``ms_name`` (matched on its EB uid); a row of polarization 'I' covers all.

    Examples
    --------
    >>> rows = [("uid___A_X1_X2.ms", "PM01", 0, "XX", 43.0), ("uid___A_X1_X2.ms", "PM01", 0, "YY", 43.5)]
    >>> missing_jyperk(rows, "uid___A_X1_X2.ms.split.cal", [("PM01", 0, "XX"), ("PM02", 0, "XX")])
    ['PM02 spw0 XX']
    """
    uid = re.match(r"uid___[A-Za-z0-9]+_[A-Za-z0-9]+_[A-Za-z0-9]+", os.path.basename(ms_name))
    key = uid.group(0) if uid else os.path.basename(ms_name)
    have = {(r[1], int(r[2]), r[3]) for r in rows if key in r[0]}
    return [f"{a} spw{s} {p}" for a, s, p in wanted if (a, int(s), p) not in have and (a, int(s), "I") not in have]


def jyperk_coverage(eb, rows) -> Finding:
    """Every antenna, science spw and polarization of the TP EB's MS has a Jy/K factor: the check (and the 0/1
    score) of the single-dish pipeline's ``hsd_k2jycal`` QA (``SDK2JyCalQAHandler``: "Jy/K factors are missing
    for some data" scores 0).

    Examples
    --------
    >>> jyperk_coverage(tp_member.ebs[0], rows).score          # doctest: +SKIP
    1.0
    """
    from ..analysis.singledish import ON
    from ..io.ms import open_ms

    tree = open_ms(eb.calibrated_ms)
    wanted = []
    for name, node in tree.children.items():
        ds = node.ds
        if not name.startswith("spw_") or "antenna_name" not in ds.dims:
            continue
        if "intents" in ds and ON not in set(np.asarray(ds.intents.values).astype(str)):
            continue  # the pipeline asks factors of the science spws only
        spw = int(name.split("_")[1])
        wanted += [(str(a), spw, str(p)) for a in ds.antenna_name.values for p in ds.polarization.values]
    missing = missing_jyperk(rows, eb.calibrated_ms, wanted)
    score = 0.0 if missing else 1.0
    return Finding(
        "jy/k",
        eb.uid,
        "a factor for every antenna, spw and polarization (pipeline hsd_k2jycal)",
        "fail" if missing else "pass",
        float(len(wanted) - len(missing)),
        f"of {len(wanted)}",
        "a factor missing scores 0 (the data stay in K)",
        "ALMA pipeline hsd_k2jycal QA (SDK2JyCalQAHandler, score_sd_jyperk_factors)",
        (f"no factor for {', '.join(missing)}" if missing else "Jy/K factors are found for all data")
        + f" of {os.path.basename(eb.calibrated_ms)}",
        score=score,
    )


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
