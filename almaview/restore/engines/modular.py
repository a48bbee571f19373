"""The modular engine: restore pipeline-calibrated EBs with the pip casatasks, step by step, in a subprocess.

Per EB: ``importasdm`` (as the pipeline imports), the delivered flag versions
restored (``Pipeline_Final``, after checking they fit the MS's rows),
``applycal`` once per line of ``<EB>.ms.calapply.txt`` (gaintable names resolved
to the extracted caltables), optionally ``split``, then the finished MS is moved
from ``working/`` to ``calibrated/`` (an MS under ``calibrated/`` is never half
written). Progress lines (``almaview-restore: EB i/n <uid>: step k/m <task>``)
go to CASA's log, which the parent process follows.

Intents: calapply.txt selects by field *and* intent. An MS imported from an
ASDM whose State table lost the calibration intents (e.g. written by
``exportasdm``) has no row with such intents; then the intent is dropped and
field selection alone is used, when every field is calibrated by one line only
(otherwise the EB fails: the tables cannot be told apart). The log says which.

Run as ``python -m almaview.restore.engines.modular <workdir>/job.json``.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import sys
import traceback
from pathlib import Path
from typing import Any

from ...errors import RestoreStepFailed as StepFailed

MARK = "almaview-restore:"


def _post(tasks: Any, message: str, priority: str = "INFO") -> None:
    tasks.casalog.post(f"{MARK} {message}", priority)


def _state_modes(vis: str) -> list[str]:
    from casacore import tables

    try:
        with tables.table(os.path.join(vis, "STATE"), ack=False) as t:
            return [str(x) for x in t.getcol("OBS_MODE")] if t.nrows() else []
    except RuntimeError:
        return []


def _matches(pattern: str, modes: list[str]) -> bool:
    pats = [p.strip() for p in pattern.split(",") if p.strip()]
    return any(fnmatch.fnmatchcase(mode, p) for p in pats for m in modes for mode in m.split(","))


def resolve_intents(calls: list[dict], modes: list[str]) -> tuple[list[dict], list[str]]:
    """Drop intent selections that match no state of the MS, if field selection alone is unambiguous.

    Returns the calls to make and warnings for the log.

    Examples
    --------
    >>> calls = [dict(field="A", intent="*CALIBRATE_BANDPASS*", gaintable=["t"]),
    ...          dict(field="B", intent="*OBSERVE_TARGET*", gaintable=["t"])]
    >>> out, warn = resolve_intents(calls, ["OBSERVE_TARGET#ON_SOURCE"])
    >>> [c.get("intent") for c in out], len(warn)
    ([None, '*OBSERVE_TARGET*'], 1)
    """
    out, dropped = [], []
    for c in calls:
        intent = c.get("intent")
        if intent and not _matches(intent, modes):
            c = {k: v for k, v in c.items() if k != "intent"}
            dropped.append((c.get("field", ""), intent))
        out.append(c)
    warnings = []
    if dropped:
        by_field: dict[str, list[dict]] = {}
        for c in out:
            by_field.setdefault(c.get("field", ""), []).append(c)
        for fld, intent in dropped:
            group = by_field.get(fld, [])
            if fld == "" or len([c for c in group if "intent" not in c]) > 1:
                raise StepFailed(
                    None,
                    f"calapply.txt selects field {fld!r} with intent {intent!r} but the imported MS has no such "
                    f"intent (its states: {sorted(set(modes))}) and field {fld!r} is calibrated by several lines: "
                    "the calibration cannot be assigned without intents",
                )
        warnings.append(
            "intent selection dropped for "
            + ", ".join(f"field {f!r} ({i})" for f, i in dropped)
            + f": the imported MS carries no such intents (its states: {sorted(set(modes))}; an ASDM whose "
            "State table lost them, e.g. written by exportasdm); field selection alone is used"
        )
    return out, warnings


def _flag_shapes(table_path: str) -> tuple[int, list[str]]:
    from casacore import tables

    with tables.table(table_path, ack=False) as t:
        return t.nrows(), t.getcolshapestring("FLAG")


def extract_flagversions(archive: str, vis: str) -> Path:
    """Extract ``<eb>.ms.flagversions`` from the delivered tgz as ``<vis>.flagversions`` (replacing importasdm's).

    Examples
    --------
    >>> extract_flagversions("calibration/uid___A002_X1_X2.ms.flagversions.tgz", "working/uid___A002_X1_X2.ms")  # doctest: +SKIP
    PosixPath('working/uid___A002_X1_X2.ms.flagversions')
    """
    from ...delivery import tarball  # the one checked extraction path (validated members, atomic, data filter)
    from ...errors import AlmaviewError

    target = Path(vis + ".flagversions")
    tmp = Path(vis + ".flagversions.extracting")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        members = [m for m in tarball.list_members(archive)]
        tops = {m.name.split("/")[0] for m in members}
        if len(tops) != 1 or not next(iter(tops)).endswith(".flagversions"):
            raise StepFailed(
                archive, f"{archive} does not hold one <eb>.ms.flagversions directory (found {sorted(tops)})"
            )
        tarball.extract_into(archive, tmp)
    except StepFailed:
        raise
    except AlmaviewError as err:
        raise StepFailed(archive, f"the flag versions archive cannot be used: {err.reason}") from err
    shutil.rmtree(target, ignore_errors=True)
    os.rename(tmp / next(iter(tops)), target)
    shutil.rmtree(tmp, ignore_errors=True)
    return target


def _flag_versions(vis: str) -> list[str]:
    path = Path(vis + ".flagversions") / "FLAG_VERSION_LIST"
    if not path.is_file():
        return []
    return [line.split(" : ")[0].strip() for line in path.read_text().splitlines() if line.strip()]


def restore_eb(tasks: Any, eb: dict, index: int, total: int) -> None:
    """Run one EB's steps (see the module docstring). Raises StepFailed with a message for the log."""
    uid, steps = eb["uid"], eb["steps"]
    staging = Path(eb["staging"])
    head = f"EB {index}/{total} {uid}"
    # a previous, interrupted attempt leaves only scratch: start this EB afresh
    for p in (
        staging,
        Path(f"{staging}.flagversions"),
        Path(f"{staging}.flagversions.extracting"),
        Path(eb["staging_split"]) if eb.get("staging_split") else None,
    ):
        if p is not None and p.exists():
            shutil.rmtree(p)
    staging.parent.mkdir(parents=True, exist_ok=True)
    flags_ok = True
    applycals = [s["kwargs"] for s in steps if s["task"] == "applycal"]
    resolved: list[dict] | None = None
    k_apply = 0
    for k, step in enumerate(steps, start=1):
        task, kw = step["task"], dict(step["kwargs"])
        _post(tasks, f"{head}: step {k}/{len(steps)} {task}")
        try:
            if task == "almaview:flagversions":
                extract_flagversions(kw["archive"], kw["vis"])
                versions = _flag_versions(kw["vis"])
                want = next((s["kwargs"]["versionname"] for s in steps if s["task"] == "flagmanager"), None)
                rows, shapes = _flag_shapes(kw["vis"])
                vt = Path(kw["vis"] + ".flagversions") / f"flags.{want}"
                if want not in versions or not vt.is_dir():
                    flags_ok = False
                    _post(
                        tasks,
                        f"{head}: flag version {want!r} not in the delivered flagversions "
                        f"({versions}); keeping the online flags",
                        "WARN",
                    )
                else:
                    vrows, vshapes = _flag_shapes(str(vt))
                    if vrows != rows or vshapes != shapes:
                        flags_ok = False
                        why = (
                            f"{vrows} rows vs {rows}"
                            if vrows != rows
                            else f"row {next(i for i, (a, b) in enumerate(zip(vshapes, shapes)) if a != b)} has shape "
                            "different from the MS's"
                        )
                        _post(
                            tasks,
                            f"{head}: flag version {want!r} does not fit this MS ({why}: it was saved from "
                            "an MS with another row order); keeping the online flags",
                            "WARN",
                        )
            elif task == "flagmanager":
                if flags_ok:
                    tasks.flagmanager(**kw)
            elif task == "applycal":
                if resolved is None:
                    resolved, warnings = resolve_intents([dict(a) for a in applycals], _state_modes(str(staging)))
                    for w in warnings:
                        _post(tasks, f"{head}: {w}", "WARN")
                call = dict(resolved[k_apply])
                k_apply += 1
                call["gaintable"] = [eb["caltables"][name] for name in call["gaintable"]]
                tasks.applycal(**call)
            elif task == "almaview:publish":
                publish(kw["staging"], kw["output"], eb.get("staging_split"), eb.get("split_ms"))
            else:
                getattr(tasks, task)(**kw)
        except StepFailed:
            raise
        except Exception as err:  # noqa: BLE001 (CASA raises anything; the message goes to the log)
            raise StepFailed(None, f"step {k}/{len(steps)} {task} failed: {type(err).__name__}: {err}") from err


def publish(staging: str, output: str, staging_split: str | None = None, split_ms: str | None = None) -> None:
    """Move a finished MS (and its .flagversions, and a split MS) from working/ to calibrated/."""
    pairs = [(staging, output), (staging + ".flagversions", output + ".flagversions")]
    if staging_split and split_ms:
        pairs.append((staging_split, split_ms))
    for src, dst in pairs:
        if not os.path.exists(src):
            continue
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        if os.path.exists(dst):
            shutil.rmtree(dst)
        os.rename(src, dst)


def main(job_path: str) -> int:
    job = json.loads(Path(job_path).read_text())
    from ... import casa

    casa.configure()
    tasks = casa.casatasks()
    tasks.casalog.setlogfile(job["casa_log"])
    tasks.casalog.showconsole(onconsole=False)
    tools = casa.casatools()
    _post(
        tasks, f"start: {len(job['ebs'])} EBs with casatasks {tools.version_string()} (python {sys.version.split()[0]})"
    )
    failed = 0
    total = len(job["ebs"])
    for i, eb in enumerate(job["ebs"], start=1):
        head = f"EB {i}/{total} {eb['uid']}"
        _post(tasks, f"{head}: start")
        try:
            restore_eb(tasks, eb, i, total)
        except StepFailed as err:
            failed += 1
            _post(tasks, f"{head}: failed: {err}", "SEVERE")
            tasks.casalog.post(traceback.format_exc(), "INFO")
            continue
        _post(tasks, f"{head}: done")
    _post(tasks, f"finished: {total - failed} of {total} EBs restored")
    return 1 if failed else 0


if __name__ == "__main__":  # pragma: no cover (run as a subprocess)
    sys.exit(main(sys.argv[1]))
