"""What of a CASA child's output reaches the user: progress bars, errors and its own prints, not CASA's log.

CASA writes its log records (INFO lines, the "leap second table out of date"
SEVERE line), progress meters and the calibrater's "N of M solutions flagged
due to SNR" prints to the console of the process that runs it; they are in
CASA's log file under almaview's cache. :class:`CasaLogFilter` drops them from
a child's output as it streams; :func:`relay` copies a child's pipe through it.
``ALMAVIEW_CASA_LOG=show`` turns the filter off. Used by
:func:`almaview.casa.run_isolated`.
"""

from __future__ import annotations

import codecs
import os
import re


# CASA's log records ("2026-12-02 06:29:36<TAB>INFO<TAB>listobs::::casa<TAB>...", the "SEVERE ... Leap second
# table TAI_UTC seems out-of-date" lines and their "+" continuations) and its "0%....10....20" meters: they are in
# CASA's log file (see almaview.casa.site_config_path), not for the user's screen.
_CASA_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?\s+(INFO\d?|WARN|SEVERE|DEBUG\d?)\s")
_CASA_METER = re.compile(r"[0-9%. ]*\.\.\.[0-9%. ]*[\r\n]*")
# What CASA's calibrater prints beside its log (gaincal, bandpass): "1 of 20 solutions flagged due to SNR < 2 in ..."
_CASA_PRINT = re.compile(r"\s*\d+ of \d+ solutions flagged due to SNR")
# A line's tail that may still become a record (timestamp, then its level) or a meter: held until more arrives.
_UNDECIDED_TAIL = re.compile(r"(\d[0-9%.:\- \t]*[A-Z]{0,6}\d?)?$")


class CasaLogFilter:
    """Drop CASA's log records, progress meters and calibrater prints from a child's output, keep everything else.

    Text arrives in arbitrary chunks; lines end in ``\\n`` or ``\\r`` (tqdm redraws its bar after
    ``\\r`` and writes no newline, so a CASA record often starts in the middle of a bar's line).
    A record is cut from its timestamp to the end of its line; the bar before it is kept.

    Examples
    --------
    >>> f = CasaLogFilter()
    >>> f.feed("\\rbuild:  50%|#####     | 1/2 [00:01<00:01]")
    '\\rbuild:  50%|#####     | 1/2 [00:01<00:01]'
    >>> f.feed("2026-12-02 06:29:50\\tINFO\\tlistobs::::casa\\t####\\n\\rbuild: 100%|##########| 2/2 [00:02<00:00]")
    '\\rbuild: 100%|##########| 2/2 [00:02<00:00]'
    >>> f.feed("\\ndone\\n") + f.close()
    '\\ndone\\n'
    """

    def __init__(self) -> None:
        self._held = ""  # the current line's text not yet shown (undecided)
        self._dropping = False  # inside a CASA record: drop until the end of its line
        self._shown = False  # part of the current line was already shown

    def feed(self, text: str) -> str:
        """Take the next chunk of the child's output; return what the user should see now."""
        out: list[str] = []
        buf = self._held + text
        self._held = ""
        for seg in re.split(r"(?<=[\r\n])", buf):
            if seg.endswith(("\r", "\n")):
                out.append(self._line_end(seg))
            elif seg:
                out.append(self._partial(seg))
        return "".join(out)

    def close(self) -> str:
        """The child exited: return what is left of its last line (unless it is CASA's)."""
        rest, self._held = self._held, ""
        if self._dropping:
            return ""
        if not rest or _CASA_RECORD.search(rest):
            return ""
        if not self._shown and (_CASA_METER.fullmatch(rest) or _CASA_PRINT.match(rest)):
            return ""
        return rest

    def _line_end(self, seg: str) -> str:
        dropping, shown = self._dropping, self._shown
        self._dropping = self._shown = False
        if dropping:
            return ""  # the record's newline goes too: the bar's next "\\r" redraws the same line
        record = _CASA_RECORD.search(seg)
        if record:
            return seg[: record.start()]
        if not shown and (_CASA_METER.fullmatch(seg) or _CASA_PRINT.match(seg)):
            return ""
        return seg

    def _partial(self, seg: str) -> str:
        if self._dropping:
            return ""
        record = _CASA_RECORD.search(seg)
        if record:
            self._dropping = True
            shown = seg[: record.start()]
        elif not self._shown and re.match(r"\s*\d", seg):
            shown, self._held = "", seg  # may be a meter or a calibrater print: decided at the line's end
        else:
            cut = _UNDECIDED_TAIL.search(seg).start()
            shown, self._held = seg[:cut], seg[cut:]
        self._shown = self._shown or bool(shown)
        return shown


def _show_casa_log() -> bool:
    return os.environ.get("ALMAVIEW_CASA_LOG", "").lower() in ("1", "show", "yes", "true")


def relay(pipe, stream, tail: bytearray | None = None) -> None:
    """Copy a child's ``pipe`` to ``stream()`` as it comes, without CASA's log (see :class:`CasaLogFilter`).

    ``stream`` is called at each write: in a notebook, the output stream current then. ``tail`` keeps
    the last 4000 bytes read (the child's last words when it fails). Returns when the pipe closes.

    Examples
    --------
    >>> import io, sys
    >>> child = io.BytesIO(b"2026-12-02 06:29:50\\tINFO\\tlistobs::::casa\\t####\\n3 cubes written\\n")
    >>> relay(child, lambda: sys.stdout)
    3 cubes written
    """
    logfilter = None if _show_casa_log() else CasaLogFilter()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def write(text: str) -> None:
        if text:
            out = stream()
            out.write(text)
            out.flush()

    while chunk := pipe.read1(4096):
        if tail is not None:
            tail += chunk
            del tail[:-4000]
        text = decoder.decode(chunk)
        write(logfilter.feed(text) if logfilter else text)
    rest = decoder.decode(b"", final=True)
    write(logfilter.feed(rest) + logfilter.close() if logfilter else rest)
