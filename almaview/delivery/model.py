"""The delivery model: plain, typed, documented objects (no IO beyond lazy properties).

A :class:`Delivery` holds member OUSes (:class:`MemberOUS`), each with its
README (:class:`Readme`), execution blocks (:class:`ExecutionBlock`), image
products (:class:`ImageProduct`), auxiliary files, QA and scripts.  The
objects are built by :func:`almaview.delivery.open_delivery`; nothing here
walks the disk except the few lazy properties that extract an archive into
the cache on first use (``MemberOUS.weblog``, ``Caltables[...]``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from dataclasses import field as _field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from .qamodel import SCORE_BANDS, AquaReport, QAMetric, QAStage, QATopic, Scored, score_band  # noqa: F401  (re-exported)

if TYPE_CHECKING:  # pragma: no cover
    from .weblog import Weblog

# ---------------------------------------------------------------- README


@dataclass
class Readme:
    """A member OUS README parsed into fields; ``extra`` keeps unknown ``Key: value`` lines verbatim."""

    layout: str = "unknown"  #: 'cycle0-4', 'cycle5', 'cycle6+' or 'unknown'
    path: str | None = None
    text: str = _field(default="", repr=False)
    project_code: str | None = None
    pi_name: str | None = None
    title: str | None = None
    sb_name: str | None = None
    configuration: str | None = None
    proposed_rms: str | None = None
    proposed_beam: str | None = None
    casa_version: str | None = None
    pipeline_version: str | None = None
    qa2_result: str | None = None
    cycle: str | None = None
    mous: str | None = None
    reducer_comments: str | None = None
    achieved_beam: list[str] = _field(default_factory=list)
    achieved_rms: list[str] = _field(default_factory=list)
    sections: list[str] = _field(default_factory=list)
    extra: dict[str, str] = _field(default_factory=dict)


# ---------------------------------------------------------------- calibration


@dataclass
class TableApply:
    """One caltable as applied by one applycal call: its gainfield, interp, spwmap and calwt."""

    table: str  #: caltable file name (basename)
    kind: str  #: see :func:`almaview.delivery.calapply.caltable_kind`
    gainfield: str = ""
    interp: str = ""
    spwmap: list[int] = _field(default_factory=list)
    calwt: bool = True


@dataclass
class Applycal:
    """One applycal call of a ``*.calapply.txt``: which tables go to which field/spw/intent/antenna."""

    field: str = ""
    spw: str = ""
    intent: str = ""
    antenna: str = ""
    tables: list[TableApply] = _field(default_factory=list)
    options: dict[str, Any] = _field(default_factory=dict)  #: other keyword arguments (applymode, flagbackup...)


@dataclass
class CalApply:
    """A parsed ``<eb>.ms.calapply.txt``."""

    path: str
    vis: str | None
    calls: list[Applycal] = _field(default_factory=list)
    problems: list[str] = _field(default_factory=list)  #: lines that could not be used, and why

    @property
    def tables(self) -> list[str]:
        """Every caltable named, in order of first appearance."""
        seen: dict[str, None] = {}
        for c in self.calls:
            for t in c.tables:
                seen.setdefault(t.table, None)
        return list(seen)


def tables_of_kind(kinds: Mapping[str, str], *wanted: str, exclude: str | None = None) -> list[str]:
    """Names of the caltables whose kind is one of ``wanted``, latest pipeline stage first (the table the
    pipeline applied last, e.g. hifa_timegaincal's phase solutions before the bandpass stage's phase-up);
    ``kinds`` maps names to kinds (:meth:`Caltables.kinds`). The one way to find an EB's tables by kind.

    Examples
    --------
    >>> kinds = {"x.ms.hifa_bandpass.s12_1.spw0.solintint.gpcal.tbl": "phase",
    ...          "x.ms.hifa_timegaincal.s17_2.spw0.solintint.gpcal.tbl": "phase", "x.ms.bcal.tbl": "bandpass"}
    >>> tables_of_kind(kinds, "phase")
    ['x.ms.hifa_timegaincal.s17_2.spw0.solintint.gpcal.tbl', 'x.ms.hifa_bandpass.s12_1.spw0.solintint.gpcal.tbl']
    """
    import re

    def stage(name: str) -> tuple[int, int, str]:
        m = re.search(r"\.s(\d+)_(\d+)\.", name)
        return (int(m.group(1)), int(m.group(2)), name) if m else (-1, -1, name)

    names = [n for n, k in kinds.items() if k in wanted and not (exclude and exclude in n)]
    return sorted(names, key=stage, reverse=True)


@dataclass
class Caltable:
    """A calibration table of an EB: where it is (loose directory or archive member) and its kind."""

    name: str
    kind: str
    eb: str | None
    source: str  #: a real path, or 'archive.tgz:member' when it still sits in an archive
    _materialise: Callable[[], Path] | None = _field(default=None, repr=False, compare=False)

    def path(self) -> Path:
        """Return a real directory for the table, extracting its archive into the cache on first use.

        Examples
        --------
        >>> tsys = eb.caltables.get_table("tsyscal").path()   # doctest: +SKIP
        """
        if self._materialise is None:
            return Path(self.source)
        return self._materialise()


class Caltables(Mapping[str, str]):
    """The caltables of an EB: ``eb.caltables[name_or_kind]`` -> a real path (extracted on first use).

    Keys are caltable file names; a kind ('tsyscal', 'bandpass', 'phase', 'amplitude', 'wvr', 'antpos',
    'fluxscale', ...) or a unique substring is accepted too when it selects exactly one table.

    Examples
    --------
    >>> eb.caltables["tsyscal"]      # doctest: +SKIP
    '~/.cache/almaview/extracted/.../uid___A002_X1_X2.ms.hifa_tsyscal.s6_1.tsyscal.tbl'
    """

    def __init__(self, tables: list[Caltable] | None = None):
        self._tables: dict[str, Caltable] = {t.name: t for t in tables or []}

    def add(self, table: Caltable) -> None:
        """Add a table unless one of that name is known (loose tables win over archive members)."""
        self._tables.setdefault(table.name, table)

    def get_table(self, key: str) -> Caltable:
        """Return the :class:`Caltable` for a name, kind, or unique substring."""
        if key in self._tables:
            return self._tables[key]
        matches = [t for t in self._tables.values() if t.kind == key]
        if not matches:
            matches = [t for t in self._tables.values() if key in t.name]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise KeyError(f"no caltable matches {key!r}; known: {sorted(self._tables)}")
        raise KeyError(f"{key!r} matches {len(matches)} caltables, use a full name: {sorted(t.name for t in matches)}")

    def __getitem__(self, key: str) -> str:
        return os.fspath(self.get_table(key).path())

    def __contains__(self, key: object) -> bool:  # by name only: never extracts anything
        return key in self._tables

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)

    def kinds(self) -> dict[str, str]:
        """Map each caltable name to its kind, without extracting anything."""
        return {name: t.kind for name, t in self._tables.items()}

    def of_kind(self, *kinds: str, exclude: str | None = None) -> list[str]:
        """Names of the tables of these kinds, latest pipeline stage first (:func:`tables_of_kind`).

        Examples
        --------
        >>> eb.caltables.of_kind("phase")   # doctest: +SKIP
        ['uid.ms.hifa_timegaincal.s17_1.spw0.solintint.gpcal.tbl', ...]
        """
        return tables_of_kind(self.kinds(), *kinds, exclude=exclude)

    def __repr__(self) -> str:
        return f"Caltables({sorted(self._tables)})"


# ---------------------------------------------------------------- execution blocks


@dataclass
class ExecutionBlock:
    """One execution block (EB) of a member OUS and everything the package holds for it."""

    uid: str  #: 'uid___A002_X<hex>_X<hex>'
    mous: str
    raw_asdm: str | None = None  #: untarred ASDM directory (raw/<eb>.asdm.sdm), if present
    raw_archive: str | None = None  #: '<project>_<eb>.asdm.sdm.tar' when the ASDM is still a tar
    raw_complete: bool | None = None  #: False when ASDM.xml is missing (half-extracted)
    calibrated_ms: str | None = None  #: the preferred calibrated MS (``*.ms.split.cal`` first), a real path
    calibrated_ms_all: list[str] = _field(default_factory=list)
    caltables: Caltables = _field(default_factory=Caltables)
    calapply: CalApply | None = None
    flag_templates: list[str] = _field(default_factory=list)
    flagversions: list[str] = _field(default_factory=list)
    scripts: list[str] = _field(default_factory=list)  #: per-EB manual calibration scripts
    seen_in: list[str] = _field(default_factory=list)  #: where the uid was found ('raw', 'manifest', 'calapply', ...)


# ---------------------------------------------------------------- products


@dataclass
class ImageProduct:
    """A FITS image product classified from ALMA's file naming."""

    name: str
    source: str  #: real path, or 'archive.tar:member'
    mous: str | None
    field: str | None
    role: str | None  #: 'sci', 'bp', 'ph', 'check', 'amp', 'polcal' ...
    spws: tuple[int, ...]
    kind: str | None  #: 'cont', 'cube', 'mfs' (or 'repBW', ...)
    stokes: str | None
    image_type: str | None  #: 'pbcor', 'pb', 'mask', 'residual', 'psf', 'model', 'alpha', 'alpha.error', ...
    taylor: str | None = None  #: 'tt0', 'tt1' for multi-term images
    naming: str = "member"  #: 'member' (member.<OUS>. prefix), 'group' (group.<OUS>.), 'legacy' (<OUS>.), 'unknown'
    compressed: bool = False
    size: int | None = None
    format: str = "fits"  #: 'fits', or 'casa' for a CASA image delivered in a tgz (e.g. a manual-route mask)
    manual: bool = False  #: made by the manual imaging route (a '.manual.' token in the name)
    band: int | None = None  #: ALMA band when the name carries it ('.B6.')
    single_dish: bool = False  #: a Total Power image ('.sd.' token)


# ---------------------------------------------------------------- auxiliary


@dataclass
class ContinuumRange:
    """One line of cont.dat: a frequency range chosen as line-free for a field and spw."""

    field: str
    spw: str
    low: float | None  #: Hz; None for 'ALL' / 'NONE'
    high: float | None
    frame: str | None
    text: str


@dataclass
class FluxDensity:
    """One row of flux.csv: a calibrator's flux density in one spw."""

    vis: str
    field: str
    spw: str
    I: float | None
    Q: float | None = None
    U: float | None = None
    V: float | None = None
    spix: float | None = None
    comment: str = ""
    extra: dict[str, str] = _field(default_factory=dict)


@dataclass
class QAFiles:
    """Where the QA material of a member OUS is: weblog archive, QA0/QA2 reports, manifest, AQUA."""

    weblog_archives: list[str] = _field(default_factory=list)
    qa0_reports: list[str] = _field(default_factory=list)
    qa2_reports: list[str] = _field(default_factory=list)
    manifest: str | None = None
    aqua: AquaReport | None = None


@dataclass
class Scripts:
    """Scripts and logs of a member OUS."""

    script_for_pi: list[str] = _field(default_factory=list)
    pipescript: list[str] = _field(default_factory=list)
    restorescript: list[str] = _field(default_factory=list)
    calibration: list[str] = _field(default_factory=list)  #: manual ``*.scriptForCalibration.py``
    imaging: list[str] = _field(default_factory=list)  #: ``scriptForImaging.py`` and friends
    other: list[str] = _field(default_factory=list)
    casa_logs: list[str] = _field(default_factory=list)
    casa_commands: list[str] = _field(default_factory=list)


# ---------------------------------------------------------------- OUS and delivery


@dataclass
class FieldInfo:
    """A field with its intents and spws, from the calibrated MS (or the package's text files)."""

    name: str
    intents: list[str] = _field(default_factory=list)
    spws: list[str] = _field(default_factory=list)
    source: str = "package"  #: 'ms' when read from a calibrated MS


@dataclass
class MemberOUS:
    """A member ObsUnitSet: the unit ALMA calibrates, images and delivers."""

    uid: str
    group: str | None
    science_goal: str | None
    path: str  #: relative path inside the project ('science_goal.../group.../member...')
    readme: Readme | None = None
    readme_error: str | None = None
    ebs: list[ExecutionBlock] = _field(default_factory=list)
    images: list[ImageProduct] = _field(default_factory=list)
    other_products: list[str] = _field(default_factory=list)
    continuum: list[ContinuumRange] = _field(default_factory=list)
    flux: list[FluxDensity] = _field(default_factory=list)
    antenna_positions: list[dict[str, str]] = _field(default_factory=list)
    aux_files: dict[str, str] = _field(default_factory=dict)  #: 'cont.dat'/'flux.csv'/'antennapos.csv' -> source
    qa: QAFiles = _field(default_factory=QAFiles)
    scripts: Scripts = _field(default_factory=Scripts)
    casa_version: str | None = None
    pipeline_version: str | None = None
    calibration_mode: str | None = None  #: 'pipeline' or 'manual'
    array: str | None = None  #: '12m', '7m' or 'TP' (another telescope's name for non-ALMA data)
    array_evidence: str = ""  #: what in the package says so
    fields: list[FieldInfo] = _field(default_factory=list)
    spws: list[dict[str, Any]] = _field(default_factory=list)
    calibrated_ms_other: list[str] = _field(default_factory=list)  #: concatenated MSs not tied to one EB
    unknown_files: list[str] = _field(default_factory=list)
    #: why each unknown file is unknown (relative path -> reason)
    unknown_reasons: dict[str, str] = _field(default_factory=dict)
    #: files recognised but not read into a field of their own: category -> sources
    #: (log archives, QA2 parts, calibration plots, product renames, ADMIT, pipeline records, ...;
    #: see :data:`almaview.delivery.names.CATEGORIES`)
    other_files: dict[str, list[str]] = _field(default_factory=dict)
    _weblog_loader: Callable[[], "Weblog | None"] | None = _field(default=None, repr=False, compare=False)
    _weblog: Any = _field(default=None, repr=False, compare=False)

    @property
    def weblog(self) -> "Weblog | None":
        """The pipeline weblog index, extracting the weblog archive into the cache on first use."""
        if self._weblog is None and self._weblog_loader is not None:
            self._weblog = self._weblog_loader()
        return self._weblog

    def eb(self, uid: str) -> ExecutionBlock:
        """Return the EB with this uid (or a unique suffix of it)."""
        matches = [e for e in self.ebs if e.uid == uid or e.uid.endswith(uid)]
        if len(matches) != 1:
            raise KeyError(f"{uid!r} matches {len(matches)} EBs of {self.uid}")
        return matches[0]


@dataclass
class Delivery:
    """An ALMA delivery package (one project, as untarred directories or archive tars).

    Examples
    --------
    >>> import almaview as av
    >>> d = av.open_delivery("2019.1.01234.S")        # doctest: +SKIP
    >>> d.project_code, [m.uid for m in d.mous]        # doctest: +SKIP
    ('2019.1.01234.S', ['uid___A001_X1465_X2a3a'])
    >>> print(d.status())                              # doctest: +SKIP
    """

    root: str  #: the project directory, or the directory holding the archive tars
    entry: str  #: the path the user gave
    layout: str  #: 'directory' (untarred) or 'tars' (archive tar files) or 'mixed'
    project_code: str | None
    mous: list[MemberOUS] = _field(default_factory=list)
    science_goals: list[str] = _field(default_factory=list)
    groups: list[str] = _field(default_factory=list)
    archives: list[str] = _field(default_factory=list)
    problems: list[str] = _field(default_factory=list)  #: status lines found while parsing
    unknown_files: list[str] = _field(default_factory=list)  #: files outside any member OUS
    #: image products made at group level (group OUS uid -> images), e.g. 12-m and 7-m imaged together
    group_products: dict[str, list[ImageProduct]] = _field(default_factory=dict)

    @property
    def ebs(self) -> list[ExecutionBlock]:
        """Every execution block of every member OUS."""
        return [eb for m in self.mous for eb in m.ebs]

    @property
    def images(self) -> list[ImageProduct]:
        """Every image product of every member OUS."""
        return [im for m in self.mous for im in m.images]

    def group_members(self, group: str) -> list["MemberOUS"]:
        """The member OUSes of a group OUS: what its group-level products combine.

        Examples
        --------
        >>> d = Delivery(root="/x", entry="/x", layout="directory", project_code=None,
        ...              mous=[MemberOUS(uid="uid___A001_X1_X3", group="uid___A001_X1_X2", science_goal=None, path=".")])
        >>> [m.uid for m in d.group_members("uid___A001_X1_X2")]
        ['uid___A001_X1_X3']
        """
        return [m for m in self.mous if m.group == group]

    def combined_members(self, group: str) -> list["MemberOUS"]:
        """The member OUSes a group OUS's products combine: interferometric (12-m, 7-m) or TP members as the images
        are, that observed a field they image (else all the group's members).

        Examples
        --------
        >>> im = ImageProduct(name="g", source="g", mous=None, field="M100", role="sci", spws=(0,), kind="cube",
        ...                   stokes="I", image_type="pbcor", naming="group")
        >>> def member(uid, array): return MemberOUS(uid=uid, group="uid___A001_X1_X1", science_goal=None, path=".",
        ...     array=array, images=[ImageProduct(name="m", source="m", mous=uid, field="M100", role="sci",
        ...     spws=(0,), kind="cube", stokes="I", image_type="pbcor", single_dish=array == "TP")])
        >>> d = Delivery(root="/x", entry="/x", layout="directory", project_code=None,
        ...              mous=[member("uid___A001_X1_X2", "12m"), member("uid___A001_X1_X3", "7m"),
        ...                    member("uid___A001_X1_X4", "TP")], group_products={"uid___A001_X1_X1": [im]})
        >>> [m.array for m in d.combined_members("uid___A001_X1_X1")]
        ['12m', '7m']
        """
        members, images = self.group_members(group), self.group_products.get(group, [])
        fields, sd = {im.field for im in images if im.field}, {im.single_dish for im in images}

        def fits(m: "MemberOUS") -> bool:
            observed = {f.name for f in m.fields} | {i.field for i in m.images if i.field}
            if fields and observed and not fields & observed:
                return False
            single_dish = m.array == "TP" or bool(m.images) and all(i.single_dish for i in m.images)
            return single_dish in sd

        return [m for m in members if fits(m)] or members

    @property
    def readme(self) -> Readme | None:
        """The first member OUS README found."""
        return next((m.readme for m in self.mous if m.readme is not None), None)

    @property
    def pi_name(self) -> str | None:
        return next((m.readme.pi_name for m in self.mous if m.readme and m.readme.pi_name), None)

    @property
    def title(self) -> str | None:
        return next((m.readme.title for m in self.mous if m.readme and m.readme.title), None)

    def eb(self, uid: str) -> ExecutionBlock:
        """Return the EB with this uid (or a unique suffix of it)."""
        matches = [e for e in self.ebs if e.uid == uid or e.uid.endswith(uid)]
        if len(matches) != 1:
            raise KeyError(f"{uid!r} matches {len(matches)} EBs; known: {[e.uid for e in self.ebs]}")
        return matches[0]

    def status(self) -> str:
        """Say, in words, what is missing and the next step to take."""
        from .status import status_lines

        return "\n".join(status_lines(self))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (see ``almaview info --json``)."""
        from .summary import delivery_to_dict

        return delivery_to_dict(self)

    def __repr__(self) -> str:
        from .summary import delivery_text

        return delivery_text(self)

    def _repr_html_(self) -> str:
        from .summary import delivery_html

        return delivery_html(self)


def plain(obj: Any) -> Any:
    """dataclasses -> dicts, dropping private fields (for JSON)."""
    if hasattr(obj, "__dataclass_fields__"):
        return {k: plain(v) for k, v in asdict(obj).items() if not k.startswith("_")}
    return obj
