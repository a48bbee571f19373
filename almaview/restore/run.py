"""Run a restore plan in a subprocess: progress from CASA's log, stoppable, resumable, verified, logged.

- The work happens in a subprocess (its own process group), in the plan's work
  directory; this process follows CASA's log and shows a progress bar
  (``tqdm.auto``: a widget in Jupyter, text in a terminal).
- Stopping (``RestoreRun.stop()``, or Ctrl-C / the notebook's interrupt while
  waiting) ends the subprocess group and removes the half-built MS from
  ``working/``; finished EBs stay verified. Running the plan again skips them.
- Each finished EB is verified (:func:`almaview.restore.verify_ms`) and then
  recorded in the work directory's state file and almaview's registry
  (:func:`almaview.restore.restored_ms`).
- ``<workdir>/almaview-restore.log`` gathers, per run, the plan, the commands,
  CASA's log and the verification: the file to send to the ALMA helpdesk.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from .. import casa
from . import registry
from .errors import RestoreNotReady, RestoreStopped
from .plan import Command, EBPlan, RestorePlan
from .progress import LogEvent, LogFollower, parse_line
from .verify import Verification, ms_is_complete, verify_ms

if TYPE_CHECKING:  # pragma: no cover
    from ..delivery.model import ExecutionBlock, MemberOUS


@dataclass
class EBResult:
    """What happened to one EB in a run."""

    uid: str
    status: str  #: 'verified', 'skipped' (already verified), 'failed', 'stopped', 'not run'
    ms: str | None = None
    message: str = ""
    verification: Verification | None = None
    seconds: float | None = None


@dataclass
class RestoreResult:
    """The outcome of :func:`run`: one :class:`EBResult` per EB of the plan, and where the logs are."""

    plan: RestorePlan = field(repr=False)
    results: list[EBResult]
    log: str
    casa_log: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        """True when every EB the plan could restore is now verified."""
        return all(r.status in ("verified", "skipped") for r in self.results if r.status != "not run")

    def __getitem__(self, uid: str) -> EBResult:
        return next(r for r in self.results if r.uid == uid or r.uid.endswith(uid))

    def lines(self) -> list[str]:
        out = [f"restore {'finished' if self.ok else 'incomplete'} in {self.seconds:.0f} s (log: {self.log})"]
        for r in self.results:
            out.append(
                f"  {r.uid}  {r.status}"
                + (
                    f": {r.ms}"
                    if r.ms and r.status in ("verified", "skipped")
                    else f": {r.message}"
                    if r.message
                    else ""
                )
            )
            if r.verification is not None:
                out += ["    " + line for line in r.verification.lines()[1:]]
        return out

    def __repr__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        import html

        return "<pre>" + html.escape(repr(self)) + "</pre>"


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


class RestoreRun:
    """A restore in progress. ``start()`` launches it, ``wait()`` follows it to the end, ``stop()`` ends it.

    Examples
    --------
    >>> r = RestoreRun(p).start()       # doctest: +SKIP
    >>> r.stop()                        # doctest: +SKIP
    >>> result = r.wait()               # doctest: +SKIP
    """

    def __init__(self, plan: RestorePlan, *, progress: bool = True, verify: bool = True):
        self.plan = plan
        self.progress = progress
        self.verify = verify
        self.work = Path(plan.workdir)
        self.results: dict[str, EBResult] = {}
        self.events: list[LogEvent] = []
        self._queue: list[tuple[Command, list[EBPlan], Path]] = []
        self._proc: subprocess.Popen | None = None
        self._follower: LogFollower | None = None
        self._current: tuple[Command, list[EBPlan], Path] | None = None
        self._bar = None
        self._started = 0.0
        self._eb_started: dict[str, float] = {}
        self._stopped = False
        self.casa_log: Path | None = None

    # ---------------------------------------------------------------- set-up
    def _log(self, text: str) -> None:
        with open(self.plan.log_path, "a", encoding="utf-8") as f:
            f.write(text if text.endswith("\n") else text + "\n")

    def _eb(self, uid: str) -> tuple["MemberOUS", "ExecutionBlock"]:
        d = self.plan.delivery
        return next((m, eb) for m in d.mous for eb in m.ebs if eb.uid == uid)

    def start(self) -> "RestoreRun":
        """Launch the restore (returns at once; follow it with :meth:`wait`)."""
        p = self.plan
        self.work.mkdir(parents=True, exist_ok=True)
        self._started = time.perf_counter()
        todo: list[EBPlan] = []
        for e in p.ebs:
            done = registry.is_verified(self.work, e.uid)
            if e.restored or (e.ready and done is not None):
                self.results[e.uid] = EBResult(
                    e.uid, "skipped", str(done or e.output_ms), "already restored and verified in this work directory"
                )
            elif e.ready:
                todo.append(e)
            else:
                self.results[e.uid] = EBResult(e.uid, "not run", message=e.verdict)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        from .. import __version__

        self._log(
            f"\n===== almaview restore, {_now()} =====\nalmaview {__version__}, python {sys.version.split()[0]}, "
            f"{platform.platform()}, host {platform.node()}\n" + repr(p)
        )
        if not todo:
            if not any(r.status == "skipped" for r in self.results.values()):
                raise RestoreNotReady(
                    p.workdir,
                    "no EB of the plan can be restored now: " + "; ".join(f"{e.uid}: {e.verdict}" for e in p.ebs),
                )
            self._log("nothing to do: " + ", ".join(f"{u} {r.status}" for u, r in self.results.items()))
            return self
        if p.engine == "modular":
            self.casa_log = self.work / f"casa-restore-{stamp}.log"
            job = self._modular_job(todo, self.casa_log)
            job_path = self.work / "job.json"
            job_path.write_text(json.dumps(job, indent=1))
            cmd = Command([sys.executable, "-m", "almaview.restore.engines.modular", str(job_path)], str(self.work))
            self._queue.append((cmd, todo, self.casa_log))
            total = sum(len(e.steps) for e in todo)
        else:
            from .engines.scriptforpi import member_command, prepare_mirror

            total = None
            for mous in dict.fromkeys(e.mous for e in todo):
                ebs = [e for e in todo if e.mous == mous]
                m = next(x for x in p.delivery.mous if x.uid == mous)
                if not p.in_delivery:
                    prepare_mirror(p.delivery, m, [e.uid for e in ebs], self.work)
                cmd = member_command(p.casa, m, self.work, in_delivery=p.in_delivery)
                self._queue.append((cmd, ebs, Path(cmd.argv[cmd.argv.index("--logfile") + 1])))
        self._bar = tqdm(total=total, desc="restore", unit="step", disable=not self.progress)
        self._launch_next()
        return self

    def _modular_job(self, todo: list[EBPlan], casa_log: Path) -> dict:
        ebs = []
        for e in todo:
            _, eb = self._eb(e.uid)
            names = {n for s in e.steps if s.task == "applycal" for n in s.kwargs["gaintable"]}
            caltables = {n: eb.caltables[n] for n in sorted(names)}  # extracts archives into the cache
            split_stage = next((s.kwargs["outputvis"] for s in e.steps if s.task == "split"), None)
            ebs.append(
                dict(
                    uid=e.uid,
                    staging=e.staging_ms,
                    output=e.output_ms,
                    split_ms=e.split_ms,
                    staging_split=split_stage,
                    caltables=caltables,
                    steps=[dict(task=s.task, kwargs=s.kwargs) for s in e.steps],
                )
            )
        return dict(casa_log=str(casa_log), ebs=ebs)

    def _launch_next(self) -> None:
        cmd, ebs, log = self._queue.pop(0)
        self._current = (cmd, ebs, log)
        self._follower = LogFollower(log, start=log.stat().st_size if log.exists() else 0)
        casa.configure()
        env = dict(os.environ)
        self._log(f"--- {_now()} running: {cmd.text()}\n    CASA log: {log}")
        out = open(self.work / "restore-subprocess.out", "ab")
        self._proc = subprocess.Popen(
            cmd.argv,
            cwd=cmd.cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        out.close()
        for e in ebs:
            self._eb_started.setdefault(e.uid, time.perf_counter())

    # ---------------------------------------------------------------- following
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def poll(self) -> list[LogEvent]:
        """Read CASA's new log lines, move the progress bar, verify EBs that finished. Returns the new events."""
        if self._follower is None:
            return []
        new = []
        for line in self._follower.new_lines():
            ev = parse_line(line)
            if ev is None:
                continue
            new.append(ev)
            if ev.kind in ("step", "eb-done", "eb-failed", "task-begin", "severe"):
                self.events.append(ev)
            self._on_event(ev)
        return new

    def _on_event(self, ev: LogEvent) -> None:
        bar = self._bar
        if ev.kind == "step" and bar is not None:
            bar.update(1)
            el = time.perf_counter() - self._started
            bar.set_postfix_str(f"EB {ev.eb_index}/{ev.eb_total} {ev.uid[-12:]} {ev.task} ({el:.0f} s)")
        elif ev.kind == "task-begin" and bar is not None and self.plan.engine == "scriptforpi":
            bar.update(1)
            bar.set_postfix_str(f"{ev.task} ({time.perf_counter() - self._started:.0f} s)")
        elif ev.kind == "eb-done" and ev.uid:
            self._finish_eb(ev.uid)
        elif ev.kind == "eb-failed" and ev.uid:
            self._fail(ev.uid, ev.message)

    def _fail(self, uid: str, message: str) -> None:
        self.results[uid] = EBResult(
            uid, "failed", message=f"{message} (see {self.plan.log_path})", seconds=self._elapsed(uid)
        )
        registry.update_state(self.work, uid, status="failed", reason=message)

    def _elapsed(self, uid: str) -> float | None:
        t0 = self._eb_started.get(uid)
        return None if t0 is None else round(time.perf_counter() - t0, 1)

    def _finish_eb(self, uid: str) -> None:
        e = next(x for x in self.plan.ebs if x.uid == uid)
        ms = e.split_ms if e.split_ms and ms_is_complete(e.split_ms) else e.output_ms
        if not ms or not ms_is_complete(ms):
            self._fail(uid, f"the run ended but {ms} is missing or incomplete")
            return
        m, eb = self._eb(uid)
        v = None
        if self.verify:
            v = verify_ms(e.output_ms, eb=eb, member=m)
            self._log("\n".join(v.lines()))
            if not v.ok:
                self.results[uid] = EBResult(
                    uid,
                    "failed",
                    ms,
                    "verification failed: " + "; ".join(why for _, ok, why in v.checks if not ok),
                    v,
                    self._elapsed(uid),
                )
                registry.update_state(self.work, uid, status="failed", ms=ms, reason="verification failed")
                registry.unregister(self.plan.delivery.root, uid)
                return
        checks = [f"{name}: {why}" for name, _, why in (v.checks if v else [])]
        registry.update_state(self.work, uid, status="verified", ms=ms, checks=checks)
        registry.register(self.plan.delivery.root, uid, ms, workdir=self.work, checks=checks)
        self.results[uid] = EBResult(uid, "verified", ms, "", v, self._elapsed(uid))

    def _subprocess_ended(self) -> None:
        cmd, ebs, log = self._current
        code = self._proc.returncode if self._proc else None
        self.poll()
        self._log(f"--- {_now()} exit code {code}")
        for e in ebs:
            if e.uid in self.results:
                continue
            if self.plan.engine == "scriptforpi":
                self._finish_eb(e.uid)  # scriptForPI has no per-EB markers: check what it left
            else:
                self._fail(e.uid, f"the subprocess ended (exit code {code}) before {e.uid} finished")
        self._current = None

    def wait(self, timeout: float | None = None, *, interval: float = 0.5) -> RestoreResult:
        """Follow the run to its end (or ``timeout`` seconds) and return the result.

        Ctrl-C (or the notebook's stop button) stops the run and raises :class:`RestoreStopped`.
        """
        t_end = None if timeout is None else time.perf_counter() + timeout
        try:
            while self._current is not None:
                self.poll()
                if self._proc is not None and self._proc.poll() is not None:
                    self._subprocess_ended()
                    if self._queue and not self._stopped:
                        self._launch_next()
                    continue
                if t_end is not None and time.perf_counter() > t_end:
                    break
                time.sleep(interval)
        except KeyboardInterrupt:
            self.stop()
            raise RestoreStopped(
                self.plan.workdir, "stopped by the user; EBs already verified are kept: run the plan again to resume"
            ) from None
        return self.result()

    def result(self) -> RestoreResult:
        out = [self.results.get(e.uid) or EBResult(e.uid, "not run", message=e.verdict) for e in self.plan.ebs]
        res = RestoreResult(
            self.plan,
            out,
            str(self.plan.log_path),
            str(self.casa_log) if self.casa_log else None,
            round(time.perf_counter() - self._started, 1),
        )
        if self._current is None:
            if self._bar is not None:
                self._bar.close()
            self._log_casa()
            self._log(repr(res))
        return res

    def _log_casa(self) -> None:
        if self.casa_log is not None and self.casa_log.exists() and not getattr(self, "_casa_logged", False):
            self._log(f"--- CASA log {self.casa_log}:\n" + self.casa_log.read_text(errors="replace"))
            self._casa_logged = True

    def stop(self) -> None:
        """Stop the run: end the subprocess group, remove the half-built MS, keep the verified EBs."""
        self._stopped = True
        self._queue.clear()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._current is not None:
            self.poll()
            _, ebs, _ = self._current
            for e in ebs:
                if e.uid in self.results:
                    continue
                for p in (e.staging_ms, f"{e.staging_ms}.flagversions", f"{e.staging_ms}.flagversions.extracting"):
                    if p and os.path.exists(p):
                        shutil.rmtree(p, ignore_errors=True)
                for s in e.steps:
                    if s.task == "split" and os.path.exists(s.kwargs["outputvis"]):
                        shutil.rmtree(s.kwargs["outputvis"], ignore_errors=True)
                self.results[e.uid] = EBResult(
                    e.uid, "stopped", message="stopped by the user before it finished", seconds=self._elapsed(e.uid)
                )
                registry.update_state(self.work, e.uid, status="stopped")
            self._log(f"--- {_now()} stopped by the user")
            self._current = None
        if self._bar is not None:
            self._bar.close()


def start(plan: RestorePlan, *, progress: bool = True, verify: bool = True) -> RestoreRun:
    """Start restoring in the background and return the :class:`RestoreRun` (``.wait()``, ``.stop()``, ``.poll()``).

    Examples
    --------
    >>> import almaview as av
    >>> r = av.restore.start(p)          # doctest: +SKIP
    >>> r.stop()                         # doctest: +SKIP
    """
    return RestoreRun(plan, progress=progress, verify=verify).start()


def run(plan: RestorePlan, *, progress: bool = True, verify: bool = True) -> RestoreResult:
    """Restore the plan's ready EBs (skipping those already verified), verify them, and return the result.

    Examples
    --------
    >>> import almaview as av
    >>> p = av.restore.plan(av.open_delivery("2023.1.01234.S"), ebs=["X1f4a"])   # doctest: +SKIP
    >>> result = av.restore.run(p)                                                # doctest: +SKIP
    >>> result["X1f4a"].status                                                    # doctest: +SKIP
    'verified'
    """
    return start(plan, progress=progress, verify=verify).wait()
