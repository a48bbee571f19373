"""Progress from CASA's log: which EB, which step, which task, elapsed; and following a growing log file.

CASA log lines are ``<date> <time>\\t<PRIORITY>\\t<origin>\\t<message>``. Tasks
announce themselves with ``##### Begin Task: <task>`` and ``##### End Task:``;
almaview's modular engine adds ``almaview-restore: EB i/n <uid>: step k/m <task>``
lines (and ``: done`` / ``: failed: ...``). scriptForPI runs show the pipeline
and CASA task names only.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)\s+(?P<priority>[A-Z0-9]+)\s+"
    r"(?P<origin>\S*)\s+(?P<message>.*)$"
)
_MARK = re.compile(
    r"almaview-restore: EB (?P<i>\d+)/(?P<n>\d+) (?P<uid>\S+): "
    r"(?:step (?P<k>\d+)/(?P<m>\d+) (?P<task>\S+)|(?P<what>start|done|failed)(?:: (?P<why>.*))?)"
)
_TASK = re.compile(r"#+ (?P<edge>Begin|End) Task: (?P<task>\w+)")


@dataclass
class LogEvent:
    """One meaningful line of CASA's log."""

    kind: str  #: 'step', 'eb-start', 'eb-done', 'eb-failed', 'task-begin', 'task-end', 'severe', 'warn', 'info'
    time: str | None = None
    priority: str | None = None
    message: str = ""
    eb_index: int | None = None
    eb_total: int | None = None
    uid: str | None = None
    step: int | None = None
    steps: int | None = None
    task: str | None = None


def parse_line(line: str) -> LogEvent | None:
    """Classify one CASA log line (None for a line that is not a log record).

    Examples
    --------
    >>> e = parse_line("2024-05-16 08:15:02\\tINFO\\tapplycal::::casa\\talmaview-restore: EB 1/2 uid___A002_X1_X2: "
    ...                "step 3/9 applycal")
    >>> e.kind, e.eb_index, e.uid, e.step, e.steps, e.task
    ('step', 1, 'uid___A002_X1_X2', 3, 9, 'applycal')
    >>> parse_line("2024-05-16 08:15:02\\tINFO\\timportasdm::::casa\\t##### Begin Task: importasdm  #####").task
    'importasdm'
    """
    m = _LINE.match(line.rstrip("\n"))
    if m is None:
        return None
    msg, prio = m.group("message"), m.group("priority")
    ev = LogEvent("info", m.group("time"), prio, msg)
    mk = _MARK.search(msg)
    if mk:
        ev.eb_index, ev.eb_total, ev.uid = int(mk.group("i")), int(mk.group("n")), mk.group("uid")
        if mk.group("k"):
            ev.kind, ev.step, ev.steps, ev.task = "step", int(mk.group("k")), int(mk.group("m")), mk.group("task")
        else:
            ev.kind = f"eb-{mk.group('what')}"
            ev.message = mk.group("why") or msg
        return ev
    t = _TASK.search(msg)
    if t:
        ev.kind, ev.task = f"task-{t.group('edge').lower()}", t.group("task")
        return ev
    if prio == "SEVERE":
        ev.kind = "severe"
    elif prio == "WARN":
        ev.kind = "warn"
    return ev


class LogFollower:
    """Read the lines appended to a (possibly not yet existing) log file since the last call.

    Examples
    --------
    >>> f = LogFollower("scratch/casa.log")       # doctest: +SKIP
    >>> for line in f.new_lines(): ...         # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike, start: int = 0):
        self.path = Path(path)
        self.offset = start
        self._partial = ""

    def new_lines(self) -> list[str]:
        if not self.path.exists():
            return []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        text = self._partial + data.decode("utf-8", "replace")
        lines = text.split("\n")
        self._partial = lines.pop()
        return lines
