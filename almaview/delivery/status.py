"""What is missing from a delivery and what to do next, in words."""

from __future__ import annotations

import os
import shlex
from typing import TYPE_CHECKING

from .arrays import array_words
from .readme import missing_fields
from .restored import restored

if TYPE_CHECKING:  # pragma: no cover
    from .model import Delivery, MemberOUS


def _n(k: int, what: str = "EB") -> str:
    return f"{k} {what}{'' if k == 1 else 's'}"


def _script_for_pi(d: Delivery, m: MemberOUS) -> str:
    names = [os.path.basename(s.split(":")[-1]) for s in m.scripts.script_for_pi]
    script = names[0] if names else "scriptForPI.py"
    where = os.path.join(d.root, m.path, "script") if d.layout != "tars" else f"{m.path}/script (after untarring)"
    casa = "casa --pipeline -c" if m.calibration_mode == "pipeline" else "casa -c"
    return f"cd {where} && {casa} {script}"


def _fetch(d: Delivery, m: MemberOUS, what: str, ebs: list[str] | None = None) -> str:
    """The ``almaview fetch`` command that downloads ``what`` of a member OUS into the delivery's tar folder."""
    dest = d.root if d.layout == "tars" else os.path.dirname(os.path.normpath(d.root))
    eb = "".join(f" --eb {e}" for e in ebs or ())
    return f"`almaview fetch {m.uid} --what {what}{eb} --dest {shlex.quote(dest)}`"


def group_product_lines(d: "Delivery") -> list[str]:
    """One line per group OUS with products of its own: how many images, of what, and the members they combine.

    Examples
    --------
    >>> from almaview.delivery.model import Delivery, ImageProduct
    >>> im = ImageProduct(name="g", source="g", mous=None, field="M100", role="sci", spws=(16,), kind="cube",
    ...                   stokes="I", image_type="pbcor", naming="group")
    >>> group_product_lines(Delivery(root="/x", entry="/x", layout="directory", project_code=None,
    ...                              group_products={"uid___A001_X1_X1": [im]}))
    ['group OUS uid___A001_X1_X1: 1 image(s) made at group level (M100 cube spw16: pbcor), combining -']
    """
    out = []
    for group, images in d.group_products.items():
        products: dict[str, list[str]] = {}
        for im in images:
            key = f"{im.field or '?'} {im.kind or '?'} spw{'_'.join(str(s) for s in im.spws) or '?'}"
            products.setdefault(key, []).append(((im.taylor + " ") if im.taylor else "") + (im.image_type or "?"))
        what = "; ".join(f"{k}: {', '.join(v)}" for k, v in products.items())
        members = ", ".join(f"{m.uid} ({array_words(m.array)})" for m in d.combined_members(group)) or "-"
        out.append(f"group OUS {group}: {len(images)} image(s) made at group level ({what}), combining {members}")
    return out


def status_lines(d: Delivery) -> list[str]:
    """Return the delivery's status: one line per thing missing or damaged, with the next step.

    Examples
    --------
    >>> from almaview.delivery.model import Delivery
    >>> status_lines(Delivery(root="/x", entry="/x", layout="directory", project_code=None))[0]
    "no member OUS found under '/x': expected science_goal.uid___*/group.uid___*/member.uid___*/ directories"
    """
    lines: list[str] = []
    if not d.mous:
        lines.append(
            f"no member OUS found under {d.root!r}: expected "
            "science_goal.uid___*/group.uid___*/member.uid___*/ directories"
        )
    lines += d.problems
    if d.layout == "tars":
        lines.append(
            f"the package is still in its archive tar files in {d.root}: almaview reads them in place; "
            f'to calibrate or image, untar them there: cd {d.root} && for f in *.tar; do tar -xf "$f"; done'
        )
    many = len(d.mous) > 1
    restored_by_almaview = restored(d.root)
    for m in d.mous:
        pre = f"{m.uid}: " if many else ""
        unreadable = any(p.startswith("README ") and m.path in p and "cannot be read" in p for p in d.problems)
        if m.readme is None and unreadable:
            lines.append(
                f"{pre}the README in {m.path} was skipped (see above); replace it with a regular text "
                f"file ({_fetch(d, m, 'readme')})"
            )
        elif m.readme is None:
            lines.append(f"{pre}no README found in {m.path} (download the README: {_fetch(d, m, 'readme')})")
        elif m.readme_error:
            lines.append(
                f"{pre}README {m.readme.path} follows none of ALMA's README layouts; "
                "its 'Key: value' lines are kept in readme.extra"
            )
        else:
            miss = missing_fields(m.readme)
            if miss:
                lines.append(f"{pre}README {m.readme.path} lacks: {', '.join(miss)}")
        n = len(m.ebs)
        if n == 0:
            lines.append(
                f"{pre}no execution blocks found (no raw/ ASDMs, pipeline manifest, calapply files "
                "or MS names); download the raw data and the auxiliary tar"
            )
            continue
        for eb in m.ebs:
            if eb.raw_complete is False:
                what = eb.raw_asdm or eb.raw_archive
                lines.append(
                    f"{pre}raw ASDM {what} is incomplete (ASDM.xml missing: half-extracted or half-copied): "
                    f"untar {d.project_code or '<project>'}_{eb.uid}.asdm.sdm.tar again"
                )
        missing = [eb for eb in m.ebs if not eb.calibrated_ms]
        done = restored_by_almaview.keys() & {eb.uid for eb in missing}
        if done:
            lines.append(
                f"{pre}restored by almaview ({_n(len(done))}): "
                + ", ".join(f"{uid} -> {restored_by_almaview[uid]}" for uid in sorted(done))
            )
            missing = [eb for eb in missing if eb.uid not in done]
        if missing:
            raw = [eb for eb in missing if eb.raw_asdm and eb.raw_complete is not False]
            tarred = [eb for eb in missing if not eb.raw_asdm and eb.raw_archive]
            absent = [eb for eb in missing if not eb.raw_asdm and not eb.raw_archive]
            line = f"{pre}calibrated MS missing for {len(missing)} of {n} EBs"
            if raw:
                those = f"those {len(raw)}" if len(raw) == len(missing) else f"{len(raw)} of them"
                line += (
                    f"; raw ASDMs present for {those}: restore them with `almaview restore {d.root}` "
                    f"(or, with the delivery's CASA, `{_script_for_pi(d, m)}`)"
                )
            lines.append(line)
            if tarred:
                lines.append(
                    f"{pre}raw ASDMs of {_n(len(tarred))} are still tar files "
                    f"({', '.join(os.path.basename(eb.raw_archive or '') for eb in tarred)}): untar them "
                    "so that raw/ holds the .asdm.sdm directories, then run scriptForPI"
                )
            if absent:
                names = ", ".join(f"{d.project_code or '<project>'}_{eb.uid}.asdm.sdm.tar" for eb in absent)
                lines.append(
                    f"{pre}raw data not downloaded for {_n(len(absent))}: fetch {names} from the archive: "
                    + _fetch(d, m, "raw", [eb.uid for eb in absent] if len(absent) < n else None)
                )
        if not m.images:
            lines.append(
                f"{pre}no image products found (product/ is empty or was not downloaded: "
                f"fetch {d.project_code or '<project>'}_{m.uid}_001_of_001.tar: {_fetch(d, m, 'product')})"
            )
        if (
            m.calibration_mode == "pipeline"
            and m.qa.aqua is None
            and not m.qa.weblog_archives
            and m._weblog_loader is None
        ):
            lines.append(
                f"{pre}no weblog or AQUA report found (download the auxiliary tar for QA: {_fetch(d, m, 'auxiliary')})"
            )
    if all("restored by almaview" in line for line in lines):  # nothing missing
        lines.append(f"complete: {len(d.mous)} member OUS, {len(d.ebs)} EBs all calibrated, {len(d.images)} images")
    return lines + group_product_lines(d)
