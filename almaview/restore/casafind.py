"""Which CASA installations are on this machine, their versions, and whether each suits a delivery.

Two kinds: monolithic CASA (a ``casa`` executable, on ``PATH`` or in the usual
install places, with or without the ALMA pipeline) and the pip packages
``casatools``/``casatasks`` in this Python. Versions are read without starting
CASA: from the install directory's name (``casa-6.5.4-9-pipeline-2023.1.0.124``)
or the ``casatools-*.dist-info`` inside it; for the pip packages from their
package metadata.
"""

from __future__ import annotations

import glob
import importlib.metadata
import importlib.util
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

#: Where monolithic CASA is usually unpacked (globs; ``~`` expanded).
SEARCH_GLOBS = (
    "/opt/casa*/bin/casa",
    "/opt/casa/*/bin/casa",
    "/usr/local/casa*/bin/casa",
    "/usr/local/casa/*/bin/casa",
    "~/casa*/bin/casa",
    "~/opt/casa*/bin/casa",
    "~/software/casa*/bin/casa",
    "~/Software/casa*/bin/casa",
    "/Applications/CASA*.app/Contents/MacOS/casa",
)

_DIR_VERSION = re.compile(
    r"casa-(?:release-|CASA-)?(?P<v>\d+\.\d+\.\d+)[-.](?P<build>\d+)"
    r"(?:[-.][^/]*?pipeline-(?P<pl>\d{4}\.\d+\.\d+\.\d+))?",
    re.IGNORECASE,
)
_ANY_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:[-.](\d+))?")


def version_tuple(text: str | None) -> tuple[int, ...] | None:
    """'6.5.4-9' / '6.5.4.9' / 'CASA 6.5.4' -> (6, 5, 4, 9) / (6, 5, 4); None when no version is found.

    Examples
    --------
    >>> version_tuple("6.5.4-9"), version_tuple("CASA version 5.6.1"), version_tuple("none")
    ((6, 5, 4, 9), (5, 6, 1), None)
    """
    if not text:
        return None
    m = _ANY_VERSION.search(text)
    if m is None:
        return None
    return tuple(int(x) for x in m.groups() if x is not None)


def short_version(text: str | None) -> str | None:
    """The 'x.y.z' a scientist asks for: '6.5.4-9' -> '6.5.4'.

    Examples
    --------
    >>> short_version("6.7.0-31")
    '6.7.0'
    """
    v = version_tuple(text)
    return None if v is None else ".".join(str(x) for x in v[:3])


@dataclass
class CasaInstallation:
    """One CASA found on this machine."""

    kind: str  #: 'monolithic' (a casa executable) or 'pip' (casatools/casatasks in this Python)
    version: str | None  #: '6.5.4-9' (monolithic) or '6.7.0.31' (pip); None when it could not be read
    path: str  #: the casa executable, or the casatasks package directory
    pipeline: str | None = None  #: the ALMA pipeline version bundled with a monolithic CASA
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        what = "CASA" if self.kind == "monolithic" else "pip casatasks"
        pl = f" + pipeline {self.pipeline}" if self.pipeline else ""
        return f"{what} {self.version or '(version unknown)'}{pl}"

    def suitability(self, casa_version: str | None, *, route: str | None) -> tuple[bool, str]:
        """Whether this CASA can restore a delivery made with ``casa_version`` on ``route``, and why.

        ALMA's rule: restore with the CASA (major.minor.patch) that calibrated the data; the pipeline
        route also needs a CASA with the pipeline. The pip packages can only run the modular engine
        (importasdm + applycal of calapply.txt), which needs the same major.minor.

        Examples
        --------
        >>> CasaInstallation("monolithic", "6.5.4-9", "/opt/casa/bin/casa", "2023.1.0.124").suitability(
        ...     "6.5.4-9", route="pipeline")
        (True, 'same CASA version as the delivery (6.5.4) with the pipeline')
        >>> CasaInstallation("pip", "6.7.0.31", "/x").suitability("6.5.4-9", route="pipeline")[0]
        False
        """
        want = version_tuple(casa_version)
        have = version_tuple(self.version)
        if want is None:
            return (
                have is not None,
                "the delivery does not say which CASA made it; any CASA may do, check the README"
                if have
                else "its version could not be read",
            )
        if have is None:
            return (False, "its version could not be read")
        ws = ".".join(map(str, want[:3]))
        if self.kind == "monolithic":
            if have[:3] != want[:3]:
                return (False, f"CASA {short_version(self.version)} differs from the delivery's {ws}")
            if route == "pipeline" and not self.pipeline:
                return (False, f"CASA {ws} without the pipeline (this delivery was pipeline-calibrated)")
            return (True, f"same CASA version as the delivery ({ws})" + (" with the pipeline" if self.pipeline else ""))
        if route != "pipeline":
            return (False, "the pip casatasks cannot replay a manual scriptForCalibration.py faithfully")
        if have[:2] != want[:2]:
            return (
                False,
                f"casatasks {short_version(self.version)} differs from the delivery's CASA {ws} "
                "(importasdm/applycal need the same major.minor)",
            )
        note = "" if have[:3] == want[:3] else f" (patch differs: {short_version(self.version)} vs {ws})"
        return (True, f"same CASA major.minor as the delivery ({ws}){note}: modular restore")


def _monolithic_version(exe: Path) -> tuple[str | None, str | None]:
    root = exe.resolve().parent.parent
    for text in (str(root), str(exe)):
        m = _DIR_VERSION.search(text)
        if m:
            return f"{m.group('v')}-{m.group('build')}", m.group("pl")
    dist = sorted(glob.glob(str(root / "lib" / "py" / "lib" / "python3*" / "site-packages" / "casatools-*.dist-info")))
    version = None
    if dist:
        version = Path(dist[-1]).name[len("casatools-") : -len(".dist-info")]
    pl = None
    pipe = sorted(glob.glob(str(root / "lib" / "py" / "lib" / "python3*" / "site-packages" / "pipeline")))
    if pipe:
        pl = "unknown version"
    return version, pl


def find_casa(*, paths: list[str] | None = None, include_pip: bool = True) -> list[CasaInstallation]:
    """Find the CASA installations on this machine (monolithic ``casa`` executables and the pip packages).

    ``paths``: directories to search for ``casa`` instead of ``PATH`` plus :data:`SEARCH_GLOBS`.

    Examples
    --------
    >>> from almaview.restore import find_casa
    >>> [c.kind for c in find_casa(paths=[])]          # doctest: +SKIP
    ['pip']
    """
    found: dict[str, CasaInstallation] = {}
    candidates: list[Path] = []
    if paths is None:
        for d in os.environ.get("PATH", "").split(os.pathsep):
            if d:
                candidates.append(Path(d) / "casa")
        for g in SEARCH_GLOBS:
            candidates += [Path(p) for p in sorted(glob.glob(os.path.expanduser(g)))]
    else:
        candidates = [Path(d) / "casa" for d in paths]
    for exe in candidates:
        if not (exe.is_file() and os.access(exe, os.X_OK)):
            continue
        key = str(exe.resolve())
        if key in found:
            continue
        version, pl = _monolithic_version(exe)
        inst = CasaInstallation("monolithic", version, str(exe), pl)
        if version is None:
            inst.notes.append("version not in the install directory's name; run `casa --version` to check")
        found[key] = inst
    out = list(found.values())
    if include_pip and importlib.util.find_spec("casatasks") is not None:
        try:
            version = importlib.metadata.version("casatasks")
        except importlib.metadata.PackageNotFoundError:
            version = None
        spec = importlib.util.find_spec("casatasks")
        where = os.path.dirname(spec.origin) if spec and spec.origin else "casatasks"
        out.append(CasaInstallation("pip", version, where))
    return out
