"""Walk a delivery: find the project root from any inner directory, index files on disk and in tars.

The result is a :class:`Tree`: every file and directory of the project keyed
by its path relative to the project directory
(``science_goal.uid___.../group.uid___.../member.uid___.../calibration/x.txt``),
whether it sits on disk or inside one of the archive's tar files.  CASA tables,
ASDMs and weblog directories are kept as single directory entries (their
insides are not listed), so walking stays fast on real packages.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import AlmaviewError, NotADelivery, PathNotFound
from . import tarball
from .textfile import MAX_TEXT_BYTES, decode_text, read_package_bytes

PROJECT_RE = re.compile(r"^\d{4}\.[A-Z0-9]\.\d{5}\.[A-Z]{1,4}$")
EB_RE = re.compile(r"uid___A002_X[0-9a-fA-F]+_X[0-9a-fA-F]+")
OUS_RE = re.compile(r"uid___A001_X[0-9a-fA-F]+_X[0-9a-fA-F]+")
LEVEL_RE = re.compile(r"^(science_goal|group|member)\.(uid___A\d+_X[0-9a-zA-Z]+_X[0-9a-zA-Z]+)$")
#: archive tar names: <project>_<OUS>_001_of_001.tar, <project>_<OUS>_auxiliary.tar, <project>_<EB>.asdm.sdm.tar,
#: member.<OUS>.README.txt.tar
ARCHIVE_TAR_RE = re.compile(
    r"^(?P<project>\d{4}\.[A-Z0-9]\.\d{5}\.[A-Z]{1,4})_(?P<uid>uid___A\d+_X[0-9a-zA-Z]+_X[0-9a-zA-Z]+)"
    r"(?P<what>_\d+_of_\d+\.tar|_auxiliary\.tar|\.asdm\.sdm\.tar|.*\.tar)$"
    r"|^member\.(?P<readme_uid>uid___A001_X[0-9a-zA-Z]+_X[0-9a-zA-Z]+)\.README\.txt\.tar$"
)


@dataclass
class Entry:
    """A file or directory of the delivery, on disk or inside a tar."""

    rel: str
    is_dir: bool
    size: int
    disk: Path | None = None
    archive: Path | None = None
    member: str | None = None

    @property
    def name(self) -> str:
        return self.rel.rsplit("/", 1)[-1]


_TABLE_NAME_RE = re.compile(r"(\.ms|\.ms\.split|\.ms\.split\.cal|_targets(_line)?\.ms|\.tbl)$")


def _is_leaf_dir(name: str, children: set[str]) -> bool:
    return (
        "table.dat" in children
        or _TABLE_NAME_RE.search(name) is not None
        or "ASDM.xml" in children
        or name.endswith((".asdm.sdm", ".flagversions"))
        or name.startswith("pipeline-")
    )


class Tree:
    """The files of one delivery, relative to its project directory."""

    def __init__(self, root: Path, layout: str, project_code: str | None):
        self.root = root
        self.layout = layout
        self.project_code = project_code
        self.entries: dict[str, Entry] = {}
        self.archives: list[Path] = []
        self.problems: list[str] = []
        self.leaf_children: dict[str, set[str]] = {}  #: collapsed directories -> names inside them

    # ------------------------------------------------------------ building
    def add_directory(self, top: Path) -> None:
        """Index a project directory on disk (without descending into tables, ASDMs or weblogs)."""
        top_real = top.resolve()
        for dirpath, dirnames, filenames in walk(top, onerror=self._walk_error):
            here = Path(dirpath)
            rel_here = here.relative_to(top).as_posix()
            rel_here = "" if rel_here == "." else rel_here
            keep = []
            for d in sorted(dirnames):
                p = here / d
                rel = f"{rel_here}/{d}" if rel_here else d
                try:
                    children = set(os.listdir(p))
                except OSError:
                    children = set()
                leaf = _is_leaf_dir(d, children) or (here.name == "raw" and EB_RE.fullmatch(d) is not None)
                outside = p.is_symlink() and not p.resolve().is_relative_to(top_real)
                self.entries[rel] = Entry(rel, True, 0, disk=p)
                if outside:  # never walk out of the package (a link to '/' would size the whole disk)
                    leaf = True
                    self.problems.append(
                        f"{p} is a symbolic link to {os.fspath(p.resolve())}, outside the package: "
                        "its contents are not listed or sized"
                    )
                if leaf:
                    self.leaf_children[rel] = children
                    self.entries[rel].size = 0 if outside else _du(p)
                else:
                    keep.append(d)
            dirnames[:] = keep
            for f in sorted(filenames):
                p = here / f
                rel = f"{rel_here}/{f}" if rel_here else f
                try:
                    size = p.stat().st_size
                except OSError:
                    size = 0
                self.entries[rel] = Entry(rel, False, size, disk=p)

    def _walk_error(self, err: OSError) -> None:
        self.problems.append(f"could not read {err.filename} ({err.strerror}); check its permissions")

    def add_archive(self, tar: Path) -> None:
        """Index the members of one archive tar (headers only), stripping the leading project directory."""
        members = tarball.list_members(tar)
        self.archives.append(tar)
        for m in members:
            parts = m.name.split("/")
            if parts and PROJECT_RE.match(parts[0]):
                if self.project_code is None:
                    self.project_code = parts[0]
                parts = parts[1:]
            if not parts:
                continue
            rel = "/".join(parts)
            full = m.name.split("/")
            stripped = len(full) - len(parts)
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in self.entries:
                    self.entries[d] = Entry(d, True, 0, archive=tar, member="/".join(full[: stripped + i]))
            if rel in self.entries and self.entries[rel].disk is not None:
                continue  # a file on disk wins over the same file in a tar
            self.entries[rel] = Entry(rel, m.is_dir, m.size, archive=tar, member=m.name)

    def prune(self) -> None:
        """Collapse CASA tables, ASDMs and weblog directories to single entries."""
        children: dict[str, set[str]] = {}
        for rel in self.entries:
            parent, _, name = rel.rpartition("/")
            children.setdefault(parent, set()).add(name)
        leaves = []
        for rel, e in self.entries.items():
            if e.is_dir:
                parent, _, name = rel.rpartition("/")
                if _is_leaf_dir(name, children.get(rel, set())) or (parent.endswith("raw") and EB_RE.fullmatch(name)):
                    leaves.append(rel)
        leaves.sort(key=len)
        cut: set[str] = set()

        def top_of(rel: str) -> str | None:  # the collapsed ancestor of rel, by lookups (linear overall)
            parts = rel.split("/")
            for i in range(1, len(parts)):
                head = "/".join(parts[:i])
                if head in cut:
                    return head
            return None

        for rel in leaves:
            if top_of(rel) is None:
                cut.add(rel)
        if not cut:
            return
        sizes: dict[str, int] = {}
        for rel in list(self.entries):
            top = top_of(rel)
            if top is None:
                continue
            e = self.entries.pop(rel)
            sizes[top] = sizes.get(top, 0) + e.size
            self.leaf_children.setdefault(top, set()).add(rel[len(top) + 1 :])
        for c, s in sizes.items():
            self.entries[c].size = s

    # ------------------------------------------------------------ reading
    def read_bytes(self, rel: str, limit: int = MAX_TEXT_BYTES) -> bytes:
        """Read a (small) file of the delivery, from disk or straight out of its tar.

        Only regular files of at most ``limit`` bytes inside the package are
        read; anything else raises :class:`~almaview.errors.UnreadablePackageFile`.
        """
        e = self.entries[rel]
        if e.disk is not None:
            return read_package_bytes(e.disk, self.root, limit=limit)
        assert e.archive is not None and e.member is not None
        return tarball.read_member(e.archive, e.member, limit=limit)

    def read_text(self, rel: str, limit: int = MAX_TEXT_BYTES) -> str:
        """Read a text file (UTF-8 or UTF-16; undecodable bytes replaced)."""
        return decode_text(self.read_bytes(rel, limit))

    def source(self, rel: str) -> str:
        """A printable location: the real path, or 'archive.tar:member'."""
        e = self.entries[rel]
        if e.disk is not None:
            return os.fspath(e.disk)
        return f"{e.archive}:{e.member}"

    def local_path(self, rel: str) -> Path:
        """A real path for an entry, extracting its part of the tar into the cache on first use."""
        e = self.entries[rel]
        if e.disk is not None:
            return e.disk
        assert e.archive is not None and e.member is not None
        root = tarball.extract_archive(e.archive, prefix=e.member)
        return root / e.member


def find_project_root(path: str | os.PathLike) -> tuple[Path, str, str | None]:
    """Locate the delivery that contains ``path``: return (root, layout, project code).

    ``layout`` is 'directory' (an untarred project), 'tars' (a folder of
    archive tar files) or 'mixed' (both side by side).  Raises
    :class:`PathNotFound` or :class:`NotADelivery`.

    Examples
    --------
    >>> find_project_root("/no/such/dir")
    Traceback (most recent call last):
    ...
    almaview.errors.PathNotFound: '/no/such/dir': does not exist
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise PathNotFound(p, "does not exist")
    p = p.resolve()
    if not p.is_dir() and not p.is_file():
        raise NotADelivery(
            p,
            "is neither a directory nor a regular file (a FIFO, socket or device); expected the "
            "project directory, a directory inside it, or the directory holding the archive's tars",
        )
    if p.is_file():
        if tarball.is_archive_name(p.name) and ARCHIVE_TAR_RE.match(p.name):
            p = p.parent
        else:
            raise NotADelivery(
                p,
                "is a file; expected the project directory, a directory inside it, "
                "or the directory holding the archive's tar files",
            )
    for cand in [p, *p.parents]:
        if PROJECT_RE.match(cand.name) and (any(LEVEL_RE.match(c.name) for c in _dirs(cand)) or cand == p):
            return cand, _layout_with_tars(cand), cand.name
        if LEVEL_RE.match(cand.name) and cand.name.startswith("science_goal."):
            root = cand.parent
            return root, _layout_with_tars(root), root.name if PROJECT_RE.match(root.name) else None
    if any(LEVEL_RE.match(c.name) and c.name.startswith("science_goal.") for c in _dirs(p)):
        return p, _layout_with_tars(p), p.name if PROJECT_RE.match(p.name) else None
    for cand in [p, *p.parents]:
        if LEVEL_RE.match(cand.name):  # a bare group/member directory copied out of its project
            top = cand
            for up in cand.parents:
                if LEVEL_RE.match(up.name):
                    top = up
                else:
                    break
            return top.parent if top.name.startswith("science_goal.") else top, "directory", None
    tars = _delivery_tars(p)
    projects = [c for c in _dirs(p) if PROJECT_RE.match(c.name)]
    if tars:
        return p, "mixed" if projects else "tars", None
    if len(projects) == 1:
        return projects[0], _layout_with_tars(projects[0]), projects[0].name
    try:
        empty = not any(p.iterdir())
    except PermissionError as err:
        raise NotADelivery(p, f"cannot be read ({err.strerror}); check its permissions") from err
    if empty:
        raise NotADelivery(
            p,
            "is an empty directory; expected an ALMA project directory (e.g. 2019.1.01234.S/ "
            "holding science_goal.uid___*/) or the archive's tar files",
        )
    if len(projects) > 1:
        raise NotADelivery(p, f"holds {len(projects)} projects ({', '.join(c.name for c in projects)}); open one")
    raise NotADelivery(
        p,
        "is not an ALMA delivery: no project directory (e.g. 2019.1.01234.S/), no "
        "science_goal/group/member.uid___* directories and no archive tar files "
        "(<project>_<OUS>_001_of_001.tar, ..._auxiliary.tar, <project>_<EB>.asdm.sdm.tar) found",
    )


def walk(top: str | os.PathLike, onerror=None):
    """Like ``os.walk(top)`` (top-down, links to directories listed but not entered), without recursion.

    Python 3.11's ``os.walk`` recurses once per level, so a package nested
    a thousand folders deep would raise RecursionError; this keeps a stack.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); (d / "a" / "b").mkdir(parents=True); _ = (d / "a" / "f").write_text("")
    >>> [(pathlib.Path(p).relative_to(d).as_posix(), ds, fs) for p, ds, fs in walk(d)]
    [('.', ['a'], []), ('a', ['b'], ['f']), ('a/b', [], [])]
    """
    stack = [os.fspath(top)]
    while stack:
        here = stack.pop()
        try:
            with os.scandir(here) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as err:
            if onerror is not None:
                onerror(err)
            continue
        dirs, files = [], []
        for e in entries:
            try:
                is_dir = e.is_dir()
            except OSError:
                is_dir = False
            (dirs if is_dir else files).append(e.name)
        yield here, dirs, files
        for name in reversed(dirs):  # what the caller kept, in order
            path = os.path.join(here, name)
            if not os.path.islink(path):
                stack.append(path)


def _du(p: Path) -> int:
    """Size of a directory's files (one level of stat calls per file; tables are small in count)."""
    total = 0
    for dirpath, _, files in walk(p):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total


def _dirs(p: Path) -> list[Path]:
    try:
        return [c for c in p.iterdir() if c.is_dir()]
    except OSError:
        return []


def _delivery_tars(p: Path) -> list[Path]:
    try:
        return sorted(c for c in p.iterdir() if c.is_file() and ARCHIVE_TAR_RE.match(c.name))
    except OSError:
        return []


#: the README the archive hands out beside the tars (not inside them): member.<OUS>.README.txt
LOOSE_README_RE = re.compile(r"^member\.(?P<uid>uid___A001_X[0-9a-zA-Z]+_X[0-9a-zA-Z]+)\.README\.txt$")


def _add_loose_readmes(tree: Tree, dirs: list[Path]) -> None:
    """Place each README downloaded beside the tars in its member OUS directory (known from the tars)."""
    members = {
        rel.rsplit("/", 1)[-1]: rel
        for rel, e in tree.entries.items()
        if e.is_dir and LEVEL_RE.match(rel.rsplit("/", 1)[-1] or "")
    }
    for d in dirs:
        try:
            found = sorted(c for c in d.iterdir() if c.is_file() and LOOSE_README_RE.match(c.name))
        except OSError:
            continue
        for f in found:
            member = members.get(f"member.{LOOSE_README_RE.match(f.name).group('uid')}")
            if member is not None and f"{member}/{f.name}" not in tree.entries:
                tree.entries[f"{member}/{f.name}"] = Entry(f"{member}/{f.name}", False, f.stat().st_size, disk=f)


def _layout_with_tars(root: Path) -> str:
    return (
        "mixed"
        if _delivery_tars(root.parent) and any(t.name.startswith(root.name + "_") for t in _delivery_tars(root.parent))
        else "directory"
    )


def build_tree(path: str | os.PathLike) -> Tree:
    """Index the delivery containing ``path`` (see :func:`find_project_root`).

    Examples
    --------
    >>> tree = build_tree("2019.1.01234.S/science_goal.uid___A001_X1_X1")   # doctest: +SKIP
    >>> sorted(tree.entries)[:1]                                           # doctest: +SKIP
    ['science_goal.uid___A001_X1_X1']
    """
    root, _, project = find_project_root(path)
    tree = Tree(root, "directory", project)
    disk_root: Path | None = None
    if LEVEL_RE.match(root.name) or any(LEVEL_RE.match(c.name) for c in _dirs(root)):
        disk_root = root
    else:
        projects = [c for c in _dirs(root) if PROJECT_RE.match(c.name)]
        if len(projects) == 1:
            disk_root = projects[0]
            tree.project_code = projects[0].name
    tar_dirs = [root]
    if disk_root is root and PROJECT_RE.match(root.name):
        tar_dirs.append(root.parent)  # tars downloaded beside the untarred project
    tars = []
    for d in tar_dirs:
        for tar in _delivery_tars(d):
            m = ARCHIVE_TAR_RE.match(tar.name)
            proj = m.group("project") if m else None
            if d is not root and proj != tree.project_code:
                continue  # beside the project: only that project's tars
            if tree.project_code and proj and proj != tree.project_code:
                continue
            tars.append(tar)
    if disk_root is None and not tars:
        disk_root = root
    if disk_root is not None:
        tree.add_directory(disk_root)
        tree.root = disk_root
    for tar in tars:
        m = ARCHIVE_TAR_RE.match(tar.name)
        try:
            tree.add_archive(tar)
        except AlmaviewError as err:  # DamagedArchive / UnsafeArchiveMember: report it, keep the rest
            tree.problems.append(f"archive {tar} cannot be used: {err.reason}")
            tree.archives.append(tar)
        if tree.project_code is None and m and m.group("project"):
            tree.project_code = m.group("project")
    if tars:
        _add_loose_readmes(tree, tar_dirs)
    usable = [a for a in tree.archives if not any(str(a) in p for p in tree.problems)] or tree.archives
    if disk_root is not None and usable:
        tree.layout = "mixed"
    elif disk_root is None:
        tree.layout = "tars"
    tree.prune()
    return tree
