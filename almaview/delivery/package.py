"""Assemble a :class:`~almaview.delivery.model.Delivery` from an indexed tree (metadata only).

Why this module is long: :class:`_Builder` is one walk over a package's tree, read top to bottom (members, EBs,
caltables, auxiliary files, QA, scripts), and its steps share the walk's state (the tree, the problems found, the
EB map); the parsers it calls live in their own modules.
"""

from __future__ import annotations

import csv
import os
import posixpath
import re
from collections.abc import Callable
from pathlib import Path

from ..errors import AlmaviewError, ReadmeFormatError
from . import tarball
from .aqua import parse_aqua
from .auxfiles import (
    comment_field,
    cont_dat_problems,
    parse_antennapos_csv,
    parse_cont_dat,
    parse_flux_csv,
)
from .calapply import caltable_kind, parse_calapply
from .manifest import parse_manifest
from .model import Caltable, Delivery, ExecutionBlock, FieldInfo, MemberOUS
from .names import MODELLED, classify_file
from .products import classify_image
from .readme import parse_readme, parse_readme_strict
from .textfile import MAX_TEXT_BYTES, decode_text, read_package_bytes
from .tree import EB_RE, LEVEL_RE, Entry, Tree, build_tree

_MS_RE = re.compile(r"(\.ms|\.ms\.split|\.ms\.split\.cal|\.ms\.cal|_targets(_line)?\.ms|\.ms\.contsub|\.ms\.selfcal)$")
_MS_PREFERENCE = (".ms.split.cal", "_targets.ms", ".ms.split", ".ms", "_targets_line.ms")
_ROLE_INTENT = {
    "sci": "TARGET",
    "bp": "BANDPASS",
    "ph": "PHASE",
    "check": "CHECK",
    "amp": "AMPLITUDE",
    "flux": "AMPLITUDE",
    "polcal": "POLARIZATION",
    "pol": "POLARIZATION",
}


def classify_entry(sub: list[str], e: Entry, leaf_children: set[str] | None) -> str:
    """Say what one entry of a member OUS is, from its folder and name.

    ``sub`` is the path below the member directory split into parts;
    ``leaf_children`` the names inside a collapsed directory (None for files
    and ordinary directories).  Returns a category such as 'readme',
    'raw_asdm', 'calibrated_ms', 'caltable', 'calapply', 'caltables_archive',
    'image', 'weblog_archive', 'script_pi', ... or 'unknown'.

    Examples
    --------
    >>> from almaview.delivery.tree import Entry
    >>> classify_entry(["calibration", "uid___A002_X1_X2.ms.calapply.txt"], Entry("x", False, 1), None)
    'calapply'
    >>> classify_entry(["misc", "notes.docx"], Entry("x", False, 1), None)
    'unknown'
    """
    name = sub[-1]
    n = name.lower()
    folder = sub[0].lower() if len(sub) > 1 else ""
    if e.is_dir:
        if leaf_children is None:
            return "dir"
        if n.endswith(".asdm.sdm") or "ASDM.xml" in leaf_children or (folder == "raw" and EB_RE.fullmatch(name)):
            return "raw_asdm"
        if n.endswith(".flagversions"):
            return "flagversions"
        if n.startswith("pipeline-"):
            return "weblog_dir"
        if "table.dat" in leaf_children or _MS_RE.search(n) or n.endswith(".tbl"):
            if n.endswith(".tbl") or (caltable_kind(name) != "unknown" and not _MS_RE.search(n)):
                return "caltable"
            if _MS_RE.search(n):
                return "calibrated_ms"
            return "caltable" if folder == "calibration" else "table"
        return "unknown"
    return classify_file(name, folder).category


class _Builder:
    def __init__(self, tree: Tree, entry: str, read_ms: bool):
        self.tree = tree
        self.read_ms = read_ms
        self.d = Delivery(
            root=os.fspath(tree.root),
            entry=entry,
            layout=tree.layout,
            project_code=tree.project_code,
            archives=[os.fspath(a) for a in tree.archives],
            problems=list(tree.problems),
        )
        self.mous: dict[str, MemberOUS] = {}
        self.ebs: dict[tuple[str, str], ExecutionBlock] = {}

    # ---------------------------------------------------------------- helpers
    def problem(self, line: str) -> None:
        if line not in self.d.problems:
            self.d.problems.append(line)

    def eb(self, m: MemberOUS, uid: str, seen: str) -> ExecutionBlock:
        key = (m.uid, uid)
        if key not in self.ebs:
            self.ebs[key] = ExecutionBlock(uid=uid, mous=m.uid)
            m.ebs.append(self.ebs[key])
        eb = self.ebs[key]
        if seen not in eb.seen_in:
            eb.seen_in.append(seen)
        return eb

    def read(self, rel: str, what: str) -> str | None:
        try:
            return self.tree.read_text(rel)
        except (AlmaviewError, OSError) as err:
            self.problem(f"{what} {self.tree.source(rel)} cannot be read ({getattr(err, 'reason', err)})")
            return None

    # ---------------------------------------------------------------- main
    def build(self) -> Delivery:
        root_levels = [self.tree.root.name] if LEVEL_RE.match(self.tree.root.name) else []
        per_mous: dict[str, list[tuple[list[str], Entry]]] = {}
        for rel in sorted(self.tree.entries):
            e = self.tree.entries[rel]
            parts = root_levels + rel.split("/")
            levels = {}
            idx = -1
            for i, part in enumerate(parts):
                lm = LEVEL_RE.match(part)
                if lm:
                    levels[lm.group(1)] = lm.group(2)
                    if lm.group(1) == "member":
                        idx = i
            sg, grp = levels.get("science_goal"), levels.get("group")
            if sg and sg not in self.d.science_goals:
                self.d.science_goals.append(sg)
            if grp and grp not in self.d.groups:
                self.d.groups.append(grp)
            if idx < 0:
                if not e.is_dir:
                    im = classify_image(parts[-1], self.tree.source(rel), e.size) if grp else None
                    if im is not None:  # imaged at group level (the pipeline combines the group's arrays)
                        im.mous = None
                        self.d.group_products.setdefault(grp, []).append(im)
                    else:
                        self.d.unknown_files.append(rel)
                continue
            uid = levels["member"]
            if uid not in self.mous:
                mpath = "/".join(parts[: idx + 1][len(root_levels) :]) or "."
                self.mous[uid] = MemberOUS(uid=uid, group=grp, science_goal=sg, path=mpath)
                self.d.mous.append(self.mous[uid])
            sub = parts[idx + 1 :]
            if sub:
                per_mous.setdefault(uid, []).append((sub, e))
        for uid, items in per_mous.items():
            self.member(self.mous[uid], items)
        for m in self.d.mous:
            m.ebs.sort(key=lambda eb: eb.uid)
            self.finish_member(m)
        if self.d.project_code is None:
            self.d.project_code = next(
                (m.readme.project_code for m in self.d.mous if m.readme and m.readme.project_code), None
            )
        return self.d

    def member(self, m: MemberOUS, items: list[tuple[list[str], Entry]]) -> None:
        cat_items: dict[str, list[tuple[list[str], Entry]]] = {}
        for sub, e in items:
            cat = classify_entry(sub, e, self.tree.leaf_children.get(e.rel))
            cat_items.setdefault(cat, []).append((sub, e))
        get = lambda c: cat_items.get(c, [])
        src = self.tree.source

        # README ---------------------------------------------------------
        readmes = sorted(get("readme"), key=lambda it: (len(it[0]), "readme" not in it[0][-1].lower()))
        if readmes:
            rel = readmes[0][1].rel
            text = self.read(rel, "README")
            if text is not None:
                try:
                    m.readme = parse_readme_strict(text, src(rel))
                except ReadmeFormatError as err:
                    m.readme = parse_readme(text, src(rel))
                    m.readme_error = str(err)
        # raw and calibrated data -----------------------------------------
        for sub, e in get("raw_asdm"):
            uid = EB_RE.search(sub[-1])
            if not uid:
                m.unknown_files.append(e.rel)
                continue
            eb = self.eb(m, uid.group(0), "raw")
            children = self.tree.leaf_children.get(e.rel, set())
            eb.raw_complete = "ASDM.xml" in children
            if e.disk is not None:
                eb.raw_asdm = os.fspath(e.disk)
            else:
                eb.raw_archive = os.fspath(e.archive)
        for sub, e in get("calibrated_ms"):
            uid = EB_RE.search(sub[-1])
            path = src(e.rel)
            if "table.dat" not in self.tree.leaf_children.get(e.rel, set()):
                self.problem(f"calibrated MS {path} is incomplete (table.dat missing): copy or create it again")
            if uid:
                self.eb(m, uid.group(0), "calibrated").calibrated_ms_all.append(path)
            else:
                m.calibrated_ms_other.append(path)
        # manifest -------------------------------------------------------
        for sub, e in get("manifest"):
            text = self.read(e.rel, "pipeline manifest")
            if text is None:
                continue
            try:
                man = parse_manifest(text, src(e.rel))
            except AlmaviewError as err:
                self.problem(f"pipeline manifest {src(e.rel)}: {err.reason}")
                continue
            m.qa.manifest = src(e.rel)
            for uid in man.asdms:
                if EB_RE.fullmatch(uid):
                    self.eb(m, uid, "manifest")
            m.casa_version = m.casa_version or man.casa_version
            m.pipeline_version = m.pipeline_version or man.pipeline_version
        # calapply -------------------------------------------------------
        for sub, e in get("calapply"):
            text = self.read(e.rel, "calapply file")
            if text is None:
                continue
            ca = parse_calapply(text, src(e.rel))
            for line in ca.problems:
                self.problem(f"calapply file {src(e.rel)}, {line}")
            uid = EB_RE.search(sub[-1]) or (EB_RE.search(ca.vis) if ca.vis else None)
            if uid:
                self.eb(m, uid.group(0), "calapply").calapply = ca
            else:
                m.unknown_files.append(e.rel)
        # caltables --------------------------------------------------------
        for sub, e in get("caltable"):
            name = sub[-1]
            uid = EB_RE.search(name)
            rel = e.rel
            mat = None if e.disk is not None else (lambda rel=rel: self.tree.local_path(rel))
            table = Caltable(
                name=name, kind=caltable_kind(name), eb=uid.group(0) if uid else None, source=src(rel), _materialise=mat
            )
            self.attach_table(m, table)
        for sub, e in get("caltables_archive") + get("auxcaltables_archive"):  # both hold real tables
            self.archive_tables(m, e)
        for sub, e in get("flagversions"):
            uid = EB_RE.search(sub[-1])
            if uid:
                self.eb(m, uid.group(0), "flagversions").flagversions.append(src(e.rel))
        for sub, e in get("flag_template"):
            uid = EB_RE.search(sub[-1])
            if uid:
                self.eb(m, uid.group(0), "flag template").flag_templates.append(src(e.rel))
            else:
                m.unknown_files.append(e.rel)
        # auxiliary products ----------------------------------------------
        for cat in ("cont.dat", "flux.csv", "antennapos.csv"):
            for sub, e in get(cat):
                text = self.read(e.rel, cat)
                if text is not None:
                    self.aux(m, cat, text, src(e.rel))
        for sub, e in get("auxproducts_archive"):
            self.aux_archive(m, e)
        # products -----------------------------------------------------------
        for sub, e in get("image"):
            im = classify_image(sub[-1], src(e.rel), e.size)
            if im is not None:
                im.mous = im.mous or m.uid
                m.images.append(im)
        m.other_products += [src(e.rel) for _, e in get("product_other")]
        # QA -------------------------------------------------------------------
        m.qa.weblog_archives = [src(e.rel) for _, e in get("weblog_archive")]
        m.qa.qa0_reports = [src(e.rel) for _, e in get("qa0")]
        m.qa.qa2_reports = [src(e.rel) for _, e in get("qa2")]
        for sub, e in get("aqua"):
            try:
                m.qa.aqua = parse_aqua(self.tree.read_bytes(e.rel), src(e.rel))
            except (AlmaviewError, OSError) as err:
                self.problem(f"AQUA report {src(e.rel)} cannot be read ({getattr(err, 'reason', err)})")
        m._weblog_loader = self.weblog_loader(m, get("weblog_dir"), get("weblog_archive"))
        # scripts and logs ----------------------------------------------------------
        s = m.scripts
        for cat, target in (
            ("script_pi", s.script_for_pi),
            ("pipescript", s.pipescript),
            ("restorescript", s.restorescript),
            ("script_cal", s.calibration),
            ("script_imaging", s.imaging),
            ("script_other", s.other),
            ("casa_log", s.casa_logs),
            ("casa_commands", s.casa_commands),
        ):
            target += [src(e.rel) for _, e in get(cat)]
        for sub, e in get("script_cal"):
            uid = EB_RE.search(sub[-1])
            if uid:
                self.eb(m, uid.group(0), "calibration script").scripts.append(src(e.rel))
        if s.casa_logs and not m.casa_version:
            m.casa_version = self.casa_version_from_log(get("casa_log")[0][1])
        for cat in ("unknown", "table"):
            m.unknown_files += [e.rel for _, e in get(cat)]
        for sub, e in get("unknown"):
            if not e.is_dir:
                m.unknown_reasons[e.rel] = classify_file(sub[-1], sub[0] if len(sub) > 1 else "").reason
        for cat, found in sorted(cat_items.items()):
            if cat not in MODELLED and cat not in ("dir", "table"):
                m.other_files.setdefault(cat, []).extend(src(e.rel) for _, e in found)

    # ---------------------------------------------------------------- pieces
    def attach_table(self, m: MemberOUS, table: Caltable) -> None:
        if table.eb is not None:
            self.eb(m, table.eb, "caltables").caltables.add(table)
            return
        users = [eb for eb in m.ebs if eb.calapply and table.name in eb.calapply.tables]
        for eb in users or m.ebs:
            eb.caltables.add(table)

    def archive_tables(self, m: MemberOUS, e: Entry) -> None:
        where = self.tree.source(e.rel)
        try:
            if e.disk is not None:
                members = tarball.list_members(e.disk)
                disk = e.disk

                def opener(tabledir: str) -> Callable[[], Path]:
                    return lambda: tarball.extract_archive(disk, label=disk.name) / tabledir
            else:
                members = tarball.list_nested_members(e.archive, e.member)
                outer, nested = e.archive, e.member

                def opener(tabledir: str) -> Callable[[], Path]:
                    label = posixpath.basename(nested)
                    return lambda: tarball.extract_archive(outer, nested=nested, label=label) / tabledir
        except AlmaviewError as err:
            self.problem(f"caltables archive {where} cannot be read: {err.reason}")
            return
        tabledirs = sorted(
            {
                posixpath.dirname(x.name)
                for x in members
                if posixpath.basename(x.name) == "table.dat" and posixpath.dirname(x.name)
            }
        )
        top: list[str] = []
        tops: set[str] = set()
        for t in tabledirs:  # sorted, so a table comes before its subtables; ancestors looked up, not scanned
            parts = t.split("/")
            if not any("/".join(parts[:i]) in tops for i in range(1, len(parts))):
                top.append(t)
                tops.add(t)
        for tabledir in top:
            name = posixpath.basename(tabledir)
            uid = EB_RE.search(name)
            kind = caltable_kind(name)
            if _MS_RE.search(name.lower()) and kind == "unknown":
                continue  # an MS inside a calibration archive is not a caltable
            self.attach_table(
                m,
                Caltable(
                    name=name,
                    kind=kind,
                    eb=uid.group(0) if uid else None,
                    source=f"{where}:{tabledir}",
                    _materialise=opener(tabledir),
                ),
            )

    def aux(self, m: MemberOUS, cat: str, text: str, source: str) -> None:
        try:
            if cat == "cont.dat":
                m.continuum += parse_cont_dat(text)
            elif cat == "flux.csv":
                m.flux += parse_flux_csv(text)
            else:
                m.antenna_positions += parse_antennapos_csv(text)
            m.aux_files.setdefault(cat, source)
        except (csv.Error, ValueError, TypeError, KeyError, IndexError) as err:  # never stops the delivery
            self.problem(f"{cat} {source} cannot be parsed ({err})")

    def aux_archive(self, m: MemberOUS, e: Entry) -> None:
        where = self.tree.source(e.rel)
        try:
            if e.disk is not None:
                members = tarball.list_members(e.disk)
                read = lambda name: tarball.read_member(e.disk, name, limit=MAX_TEXT_BYTES)
            else:
                members = tarball.list_nested_members(e.archive, e.member)
                read = lambda name: tarball.read_member(e.archive, name, nested=e.member, limit=MAX_TEXT_BYTES)
            for mem in members:
                base = posixpath.basename(mem.name).lower()
                for cat in ("cont.dat", "flux.csv", "antennapos.csv"):
                    if not mem.is_dir and base.endswith(cat) and cat not in m.aux_files:
                        self.aux(m, cat, decode_text(read(mem.name)), f"{where}:{mem.name}")
                if not mem.is_dir and base.endswith("jyperk.csv") and "jyperk.csv" not in m.aux_files:
                    m.aux_files["jyperk.csv"] = f"{where}:{mem.name}"  # Total Power Jy/K factors (qa.singledish)
        except AlmaviewError as err:
            self.problem(f"auxiliary products archive {where} cannot be read: {err.reason}")

    def weblog_loader(self, m: MemberOUS, dirs: list, archives: list) -> Callable[[], object] | None:
        from .weblog import find_html_dir, index_weblog

        tree = self.tree
        if dirs:
            rel = dirs[0][1].rel

            def from_dir():
                base = tree.local_path(rel)
                html = base / "html" if (base / "html").is_dir() else find_html_dir(base.parent)
                return index_weblog(html) if html else None

            return from_dir
        if archives:
            e: Entry = archives[0][1]

            def from_archive():
                if e.disk is not None:
                    root = tarball.extract_archive(e.disk, label=e.disk.name)
                else:
                    root = tarball.extract_archive(e.archive, nested=e.member, label=posixpath.basename(e.member))
                html = find_html_dir(root)
                return index_weblog(html) if html else None

            return from_archive
        return None

    def casa_version_from_log(self, e: Entry) -> str | None:
        try:
            if e.disk is not None:
                head = decode_text(read_package_bytes(e.disk, self.tree.root, limit=65536, head=True))
            else:
                head = self.tree.read_text(e.rel)[:65536]
        except (OSError, AlmaviewError):
            return None
        mm = re.search(r"CASA Version\s+(?:CASA\s+)?(\d+\.\d+[\w.\-]*)", head)
        return mm.group(1) if mm else None

    def finish_member(self, m: MemberOUS) -> None:
        if m.readme is not None:
            m.casa_version = m.casa_version or m.readme.casa_version
            m.pipeline_version = m.pipeline_version or m.readme.pipeline_version
        if m.qa.aqua is not None:
            m.casa_version = m.casa_version or m.qa.aqua.casa_version
            m.pipeline_version = m.pipeline_version or m.qa.aqua.pipeline_version
        if m.qa.manifest or m.scripts.pipescript or any(eb.calapply for eb in m.ebs) or m.qa.weblog_archives:
            m.calibration_mode = "pipeline"
        elif m.scripts.calibration:
            m.calibration_mode = "manual"
        for eb in m.ebs:
            eb.calibrated_ms_all.sort(key=_ms_rank)
            eb.calibrated_ms = eb.calibrated_ms_all[0] if eb.calibrated_ms_all else None
            if eb.calapply is not None and len(eb.caltables):
                missing = [t for t in eb.calapply.tables if t not in eb.caltables]
                if missing:
                    self.problem(
                        f"{len(missing)} caltable(s) named in {eb.calapply.path} are not in the package "
                        f"(e.g. {missing[0]})"
                    )
        self.fields(m)
        if m.continuum:
            for line in cont_dat_problems(m.continuum, _spw_coverage(m.spws), m.aux_files.get("cont.dat", "cont.dat")):
                self.problem(line)
        from .arrays import member_array

        m.array, m.array_evidence = member_array(m, read_ms=self.read_ms)

    def fields(self, m: MemberOUS) -> None:
        if self.read_ms:
            for eb in m.ebs:
                if eb.calibrated_ms and os.path.isdir(eb.calibrated_ms):
                    try:
                        from .msinfo import ms_fields_spws

                        fields, spws = ms_fields_spws(eb.calibrated_ms)
                    except Exception as err:  # the MS reader is optional: never fail the delivery for it
                        self.problem(
                            f"metadata of {eb.calibrated_ms} could not be read ({type(err).__name__}: "
                            f"{err}); fields and spws below come from the package's text files"
                        )
                        continue
                    _merge_fields(m.fields, fields)
                    for s in spws:
                        if s not in m.spws:
                            m.spws.append(s)
            if m.fields:
                return
        found: list[FieldInfo] = []
        for eb in m.ebs:
            if eb.calapply:
                for call in eb.calapply.calls:
                    intents = [i for i in re.split(r"[,\s]+", call.intent) if i]
                    spws = [s for s in re.split(r"[,\s]+", call.spw) if s]
                    for name in [f for f in re.split(r",", call.field) if f.strip()]:
                        _merge_fields(found, [FieldInfo(name.strip(), intents, spws)])
        for c in m.continuum:
            if c.field:
                _merge_fields(found, [FieldInfo(c.field, ["TARGET"], [c.spw] if c.spw else [])])
        for f in m.flux:
            name = comment_field(f.comment) or f.field
            im = re.search(r"intents=(\S+)", f.comment)
            _merge_fields(found, [FieldInfo(name, im.group(1).split(",") if im else [], [f.spw] if f.spw else [])])
        for im in m.images:
            if im.field and im.naming != "unknown":
                intent = _ROLE_INTENT.get(im.role or "")
                _merge_fields(found, [FieldInfo(im.field, [intent] if intent else [], [str(s) for s in im.spws])])
        m.fields = found
        ids: list[str] = []
        for f in found:
            for s in f.spws:
                if s not in ids:
                    ids.append(s)
        m.spws = [{"spw": s} for s in sorted(ids, key=lambda x: (not x.isdigit(), int(x) if x.isdigit() else 0, x))]


def _merge_fields(into: list[FieldInfo], new: list[FieldInfo]) -> None:
    by_name = {f.name: f for f in into}
    for f in new:
        if f.name not in by_name:
            by_name[f.name] = FieldInfo(f.name, [], [], f.source)
            into.append(by_name[f.name])
        tgt = by_name[f.name]
        tgt.intents += [i for i in f.intents if i not in tgt.intents]
        tgt.spws += [s for s in f.spws if s not in tgt.spws]


def _spw_coverage(spws: list[dict]) -> dict[str, tuple[float, float]] | None:
    """(lowest, highest) frequency in Hz per spw id, from spw rows read out of an MS (None when unknown)."""
    out = {}
    for row in spws:
        sid, centre, width = row.get("spw_id", row.get("spw")), row.get("center_frequency"), row.get("total_bandwidth")
        if sid is None or centre is None or width is None:
            continue
        try:
            centre, width = float(centre), abs(float(width))
        except (TypeError, ValueError):
            continue
        out[str(sid)] = (centre - width / 2, centre + width / 2)
    return out or None


def _ms_rank(path: str) -> tuple[int, str]:
    name = path.rstrip("/").lower()
    for i, suffix in enumerate(_MS_PREFERENCE):
        if name.endswith(suffix):
            return (i, path)
    return (len(_MS_PREFERENCE), path)


def open_delivery(path: str | os.PathLike, *, read_ms: bool = True) -> Delivery:
    """Open an ALMA delivery: the project directory, any directory inside it, or the folder of its tars.

    Reads metadata only (names, README, manifest, calapply, auxiliary text
    files, AQUA report); nothing in the delivery is ever written.  Archives
    are extracted into the cache only when something inside is asked for
    (``eb.caltables[...]``, ``mous.weblog``).  With ``read_ms=True`` fields,
    intents and spws come from the calibrated MSs (metadata only) when present.

    Examples
    --------
    >>> import almaview as av
    >>> d = av.open_delivery("2019.1.01234.S/science_goal.uid___A001_X1465_X2a38")   # doctest: +SKIP
    >>> [eb.uid for eb in d.ebs]                                                    # doctest: +SKIP
    ['uid___A002_Xe1f219_X6d0', 'uid___A002_Xe1f219_X7ee']
    >>> print(d.status())                                                           # doctest: +SKIP
    calibrated MS missing for 2 of 2 EBs; ...
    """
    tree = build_tree(path)
    return _Builder(tree, os.fspath(path), read_ms).build()
