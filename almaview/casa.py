"""CASA, offline, configured in one place.

Every part of almaview that runs CASA (test-data simulation, restoration,
re-imaging) goes through :func:`casatools` / :func:`casatasks` here. Before the
first ``import casatools`` we write a site config into almaview's cache and
point ``CASASITECONFIG`` at it: measures come from the ``casadata`` package,
nothing is auto-updated (clusters and workshops are often offline), and CASA's
cache and log go to almaview's cache rather than the current directory or
``~/.casa``. A user's own ``~/.casa/config.py`` is read after the site config by
casaconfig and still overrides it.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import threading
from contextlib import contextmanager, suppress
from pathlib import Path
from types import ModuleType
from typing import Iterator

from .cache import cache_dir
from .casalog import relay
from .errors import AlmaviewError, CasaNotAvailable

_SITE_CONFIG = """\
# Written by almaview.casa: CASA offline, data from the casadata package.
import os as _os
import casadata as _casadata
measurespath = _casadata.datapath
datapath = [_casadata.datapath]
measures_auto_update = False
data_auto_update = False
cachedir = {cachedir!r}
logfile = _os.path.join({logdir!r}, "casa-%d.log" % _os.getpid())
telemetry_enabled = False
crashreporter_enabled = False
nologger = True
"""


def site_config_path() -> Path:
    """Write (if needed) and return almaview's CASA site config file.

    Examples
    --------
    >>> from almaview.casa import site_config_path
    >>> site_config_path().name
    'casasiteconfig.py'
    """
    root = cache_dir("casa")
    logdir = cache_dir("casa", "logs")
    text = _SITE_CONFIG.format(cachedir=str(root), logdir=str(logdir))
    path = root / "casasiteconfig.py"
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, path)
    return path


def configure() -> Path:
    """Point CASA at almaview's offline site config; call before importing casatools.

    Respects a ``CASASITECONFIG`` the user already set. Returns the config in use.

    Examples
    --------
    >>> from almaview import casa
    >>> casa.configure().is_absolute()
    True
    """
    if os.environ.get("CASASITECONFIG"):
        return Path(os.environ["CASASITECONFIG"])
    path = site_config_path()
    if "casatools" in sys.modules:
        # Too late to change CASA's configuration in this process; say so once.
        return path
    os.environ["CASASITECONFIG"] = str(path)
    return path


def _import(name: str) -> ModuleType:
    configure()
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise CasaNotAvailable(
            None,
            f"{name} is not installed: this step runs CASA. "
            "Install almaview's CASA extra: pip install 'almaview[casa]'",
        ) from err


def casatools() -> ModuleType:
    """Return the ``casatools`` module, configured for offline use.

    CASA's log goes to almaview's cache (see :func:`site_config_path`), not the terminal.

    Examples
    --------
    >>> from almaview import casa
    >>> ms = casa.casatools().ms()   # doctest: +SKIP
    """
    mod = _import("casatools")
    if not getattr(mod, "_almaview_quiet", False):
        mod.logsink().showconsole(onconsole=False)
        mod._almaview_quiet = True
    return mod


def casatasks() -> ModuleType:
    """Return the ``casatasks`` module, configured for offline use.

    Examples
    --------
    >>> from almaview import casa
    >>> casa.casatasks().listobs   # doctest: +SKIP
    <...>
    """
    casatools()
    mod = _import("casatasks")
    if not getattr(mod, "_almaview_quiet", False):
        mod.casalog.showconsole(onconsole=False)  # casatasks' own log sink echoes WARN lines otherwise
        mod._almaview_quiet = True
    return mod


def available() -> bool:
    """True when casatools and casatasks can be imported.

    Examples
    --------
    >>> from almaview import casa
    >>> isinstance(casa.available(), bool)
    True
    """
    return all(importlib.util.find_spec(m) is not None for m in ("casatools", "casatasks"))


@contextmanager
def working_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Run CASA with ``path`` as the current directory.

    Imaging tools write scratch files (TempLattice*, IMAGING_WEIGHT_*) into the
    current directory; this keeps them out of the user's notebook folder.

    Examples
    --------
    >>> from almaview import casa
    >>> with casa.working_directory("/tmp"):      # doctest: +SKIP
    ...     casa.casatasks().tclean(...)
    """
    old = Path.cwd()
    target = Path(path)
    target.mkdir(parents=True, exist_ok=True)
    os.chdir(target)
    try:
        yield target
    finally:
        os.chdir(old)


def run_isolated(target: str, *args, **kwargs) -> None:
    """Run ``"module:function"(*args, **kwargs)`` in a fresh Python process and wait for it.

    casatools and python-casacore each carry their own casacore libraries; using
    both heavily in one process has crashed it. Long CASA jobs (simulation,
    calibration, imaging) therefore run in a child; its progress bars and
    errors are relayed to this process's stderr (a notebook shows them), what it prints to stdout
    to this process's stdout. CASA's own log records (INFO lines, the "leap second table out of
    date" SEVERE line), meters and the calibrater's "N of M solutions flagged due to SNR" prints
    (on the child's stdout) are not: they are in CASA's log file under almaview's cache; set
    ``ALMAVIEW_CASA_LOG=show`` to see them as well. Stopped (Ctrl-C, a notebook's interrupt), the
    child and every process it started are killed.

    Examples
    --------
    >>> from almaview import casa
    >>> casa.run_isolated("almaview.sampledata:build_alma_eb", "scratch/eb", isolate=False)   # doctest: +SKIP
    """
    _IsolatedRun(target, args, kwargs).wait()


def _quiet_relay(*args) -> None:
    """:func:`~almaview.casalog.relay` in a thread that leaves Ctrl-C to the thread waiting for the child."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    relay(*args)


class _IsolatedRun:
    """One function running in a child process (see :func:`run_isolated`): ``wait()``, ``kill()``.

    The child stays in this process's group, as its own children (CASA jobs it runs in turn) do: a
    terminal's Ctrl-C and a kernel's interrupt or restart reach them all. ``kill()`` stops the child and
    every process under it at once, whatever they are doing (a SIGINT waits for CASA's C++ to return).
    """

    def __init__(self, target: str, args: tuple, kwargs: dict):
        import pickle
        import subprocess

        configure()
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.target = target
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "almaview._isolated"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None and self.proc.stderr is not None
        self.proc.stdin.write(pickle.dumps((target, args, kwargs)))
        self.proc.stdin.close()
        self._tail = bytearray()  # the end of its stderr: its last words when it fails
        self._relays = [
            # stdout and stderr each in a thread (CASA's C++ prints come in buffered blocks)
            threading.Thread(target=_quiet_relay, args=(self.proc.stdout, lambda: sys.stdout), daemon=True),
            threading.Thread(target=_quiet_relay, args=(self.proc.stderr, lambda: sys.stderr, self._tail), daemon=True),
        ]
        for thread in self._relays:
            thread.start()

    def wait(self) -> None:
        """Wait until it ends; raise :class:`AlmaviewError` with its last output when it failed or crashed."""
        try:
            code = self.proc.wait()
        except BaseException:
            self.kill()  # stopped by the user: leave no orphan CASA behind
            raise
        for thread in self._relays:
            thread.join(timeout=10)
        if code != 0:
            how = f"crashed (signal {-code})" if code < 0 else f"failed (exit code {code})"
            lines = self._tail.decode(errors="replace").strip().splitlines()[-6:]
            raise AlmaviewError(None, f"{self.target} {how}; its last output:\n  " + "\n  ".join(lines))

    def kill(self) -> None:
        """Stop it now, with what it started; nothing happens when it already ended."""
        try:
            import psutil  # (the casa extra's; without it, the child alone)
        except ImportError:
            psutil = None
        tree = []
        if psutil is not None:
            with suppress(psutil.NoSuchProcess):  # its whole tree, listed before the child goes (orphans leave it)
                tree = psutil.Process(self.proc.pid).children(recursive=True)
        if self.proc.poll() is None:
            self.proc.kill()
        for process in tree:
            with suppress(psutil.NoSuchProcess):
                process.kill()
        self.proc.wait()


_STARTED_BY = "ALMAVIEW_JOB_STARTED_BY"

#: Run first in a :class:`CasaJob`'s child: a thread that kills the job's process group once the process that
#: started it is gone (the child was handed to another parent), so a restarted kernel leaves no CASA running.
ORPHAN_WATCH = f"""
import os as _os, signal as _signal, threading as _threading, time as _time

def _almaview_orphan_watch(started_by=int(_os.environ.get("{_STARTED_BY}", "0"))):
    if not started_by:
        return
    while _os.getppid() == started_by:
        _time.sleep(1)
    _os.killpg(0, _signal.SIGKILL)  # the process that started this job is gone: so is the job

_threading.Thread(target=_almaview_orphan_watch, daemon=True).start()
"""


class CasaJob:
    """A CASA script running in a child process in its own scratch folder, without blocking.

    The child runs ``python -c script spec_json`` in ``workdir`` (its own process group, stderr in
    ``workdir/stderr.txt``); it writes ``DONE`` there when it succeeded. Its own group keeps it running
    through an interrupt of another cell; when the process that started it is gone (a kernel restarted
    or killed), it kills its group within a second or two (see :data:`ORPHAN_WATCH`). :class:`~almaview.imaging.tclean.TcleanRun`
    and :class:`~almaview.imaging.combine.FeatherRun` are built on it: they decide what the products are.

    Examples
    --------
    >>> import tempfile
    >>> job = CasaJob("open('DONE', 'w').write('ok')", {}, tempfile.mkdtemp())
    >>> job.wait_exit(), job.succeeded()
    (0, True)
    >>> job.discard(); job.workdir.exists()
    False
    """

    def __init__(self, script: str, spec: dict, workdir: str | os.PathLike):
        import json
        import subprocess

        self.workdir = Path(workdir)
        self._stderr = open(self.workdir / "stderr.txt", "w")
        env = dict(os.environ)
        env[_STARTED_BY] = str(os.getpid())
        self.process = subprocess.Popen(
            [sys.executable, "-c", ORPHAN_WATCH + script, json.dumps(spec)],
            cwd=self.workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            start_new_session=True,
        )

    def exit_code(self) -> int | None:
        """The child's exit code, None while it runs (its stderr file is closed once it exited).

        Examples
        --------
        >>> job.exit_code()   # doctest: +SKIP
        0
        """
        rc = self.process.poll()
        if rc is not None and not self._stderr.closed:
            self._stderr.close()
        return rc

    def wait_exit(self) -> int:
        """Block until the child exits; its exit code.

        Examples
        --------
        >>> job.wait_exit()   # doctest: +SKIP
        0
        """
        self.process.wait()
        return self.exit_code()

    def succeeded(self) -> bool:
        """The child exited with 0 and wrote ``DONE``.

        Examples
        --------
        >>> job.succeeded()   # doctest: +SKIP
        True
        """
        return self.exit_code() == 0 and (self.workdir / "DONE").exists()

    def error_text(self, limit: int = 2000) -> str:
        """The end of the child's stderr (what a failure message shows).

        Examples
        --------
        >>> job.error_text()   # doctest: +SKIP
        'Traceback (most recent call last): ...'
        """
        try:
            return (self.workdir / "stderr.txt").read_text(errors="replace")[-limit:].strip()
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the child's process group (SIGTERM, SIGKILL after ``timeout`` s) and remove the scratch folder.

        Examples
        --------
        >>> job.stop()   # doctest: +SKIP
        """
        import subprocess

        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.discard()

    def discard(self) -> None:
        """Remove the scratch folder (after the products were moved out, or on failure).

        Examples
        --------
        >>> job.discard()   # doctest: +SKIP
        """
        import shutil

        if not self._stderr.closed:
            self._stderr.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


def replace_into(src: Path, target: Path) -> Path:
    """Move ``src`` (a file or a CASA image folder) to ``target``, replacing what was there; ``target``.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); (d / "a").write_text("new"); (d / "b").write_text("old")
    3
    3
    >>> replace_into(d / "a", d / "b").read_text()
    'new'
    """
    import shutil

    if target.exists():
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    os.replace(src, target)
    return target
