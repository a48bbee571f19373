"""Explorer selection changes in JupyterLab (headless Chromium) on the demo delivery: from the page's control change
to the painted panel, per tab, and the panels' width following the window.

Speed. For each of the tabs a user switches most (visibilities, Tsys, bandpass, gains), spw and antenna changes
through the page's own controls, each timed on the page's clock (as ``test_image_viewer_speed_lab.py`` times its
Enter -> painted frame) from the control's ``change`` event to a task after the first animation frame in which the
figures on screen both name the new selection in their titles (the spw or the antenna: a panel still showing the
old selection, or a blank one being replaced, does not count) and show other pixels than before (the canvases were
repainted). Playwright's own round trips (its ``select_option`` before the event, its polling after the frame:
tens of ms a change) are not the user's wait; the same changes timed from the test's side are printed next to
them. Two figures: issue 14's target, 300 ms (``TARGET_MS``, reported with the measurement as met or not at the
measured load), and the enforced guard ``GUARD_MS``, a bound that catches a regression with room for a loaded
machine (``benchmarks/RESULTS-explorer.md`` has the figures). The first change of a calibration tab to all spws is
timed apart (``first``): the panel may grow its figure slots once.

Load: as in ``test_image_viewer_speed_lab.py``, the figures are multiplied by ``slack = max(1, load per CPU)`` up
to ``MAX_SLACK``; above it the budget cannot be judged and the test says so (skip) with the numbers.

Width. The explorer's figures use the width the page gives them: at a 1400 px and a 900 px wide window (Lab's
side bar collapsed) the visibilities and Tsys figures are drawn wider than their nominal width in the wide window,
the panel narrower in the narrow one (the Tsys grid may fall to one column), and inside the window.
"""

from __future__ import annotations

import functools
import json
import os
import re
import statistics
import time

import pytest

from . import harness
from .test_explorer_lab import PIXELS_JS, VISIBLE_FIGURES_JS, _control, _open_tab, _option_labels, _options
from .test_explorer_lab import _wait_figures

pytestmark = pytest.mark.browser

NOTEBOOK = "explorer-speed.ipynb"
CELLS = ["import almaview as av\n\nd = av.open_delivery(av.demo.build())\nex = av.explore(d)\nex"]
TARGET_MS = 300.0  # issue 14's target: printed with the measurement
#: enforced (times slack): a regression bound, not the target. On an idle machine the slowest median was ~200 ms
#: when this was set (2026-12-03, after ``_bokeh.LEGEND_JS``); 2.5x the target leaves room for CI's load
GUARD_MS = 750.0
MAX_SLACK = 3.0
#: tab -> the title prefixes of its figures that name the selection
PREFIXES = {
    "visibilities": ("Amplitude", "Phase"),
    "tsys": ("Tsys · ",),
    "bandpass": ("Bandpass ",),
    "gains": ("Gain ",),
}

# true when every figure of the tab on screen names the selection (``pattern``) in its title or legend
# and the canvases differ from ``before``
DONE_JS = (
    """([prefixes, pattern, before, any]) => {
  const figs = ("""
    + VISIBLE_FIGURES_JS
    + """)().filter((f) => prefixes.some((p) => f.title.startsWith(p)));
  const re = new RegExp(pattern);
  const named = (f) => re.test(f.title + ' | ' + f.legend.join(' | '));
  if (!figs.length || !(any ? figs.some(named) : figs.every(named))) return false;
  return ("""
    + PIXELS_JS
    + """)() !== before;
}"""
)


def _kernel_exec(page, code: str) -> None:
    """Run ``code`` in the notebook's kernel (as a cell would, without one)."""
    page.evaluate(
        """async (code) => { const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
      await k.requestExecute({code, silent: false, store_history: false}).done; }""",
        code,
    )


def _load_per_cpu() -> float:
    try:
        return os.getloadavg()[0] / (len(os.sched_getaffinity(0)) or 1)
    except (OSError, AttributeError):
        return 0.0


# Started before a change: the time of the control's ``change`` event (a capture listener, before ipywidgets' own),
# then at each animation frame DONE_JS; the frame in which it first holds, and a task after that frame (painted).
PROBE_JS = """([done, args]) => {
  const check = eval(done);
  const s = window.__speed = {t0: null, frame: null, painted: null, polls: 0};
  const onChange = (e) => { if (s.t0 === null && e.target && e.target.tagName === 'SELECT') s.t0 = performance.now(); };
  window.addEventListener('change', onChange, true);
  const tick = () => {
    if (s.t0 !== null) {
      s.polls++;
      if (check(args)) {
        s.frame = performance.now();
        window.removeEventListener('change', onChange, true);
        setTimeout(() => { s.painted = performance.now(); }, 0);
        return;
      }
    }
    if (!s.stop) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""


def _timed_change(page, tab: str, do, token: str, any_figure: bool = False, log=None, walls=None) -> float:
    """Seconds from the control's ``change`` event in the page (``do()``: a control change through Playwright) to a
    task after the first animation frame in which the tab's figures name ``token`` (every figure, or one with
    ``any_figure``) and show other pixels than before, both on the page's clock: what a user waits for, without
    Playwright's own round trips (``walls`` gets those too: ``do()`` to the wait's return, on the test's clock)."""
    page.wait_for_timeout(300)  # the previous change's late work is done
    before = page.evaluate(PIXELS_JS)
    pattern = r"(^|\W)" + re.escape(token) + r"($|\W)"  # a word: 'spw 1' is not 'spw 17'
    page.evaluate(PROBE_JS, [DONE_JS, [list(PREFIXES[tab]), pattern, before, any_figure]])
    t0 = time.perf_counter()
    do()
    try:
        page.wait_for_function("() => window.__speed.painted !== null", timeout=60_000, polling=20)
    except Exception as err:
        page.evaluate("() => { window.__speed.stop = true; }")
        shown = [(f["title"], f["legend"][:4]) for f in page.evaluate(VISIBLE_FIGURES_JS)]
        problems = log.problems() if log is not None else []
        raise AssertionError(f"{tab}: no repainted figure naming {token!r} within 60 s: {shown} {problems}") from err
    if walls is not None:
        walls.append(time.perf_counter() - t0)
    s = page.evaluate("() => window.__speed")
    assert s["t0"] is not None and s["painted"] >= s["frame"] >= s["t0"], s
    return (s["painted"] - s["t0"]) / 1e3


def _start(page, lab_server, notebooks_copy, width: int = 1400):
    page.set_viewport_size({"width": width, "height": 1000})
    harness.open_alone(page, lab_server, harness.write_notebook(notebooks_copy, NOTEBOOK, CELLS))
    state = harness.run_all_in_lab(page, timeout=300)
    assert not [c for c in state["cells"] if c["errors"]], state["cells"]
    _wait_figures(page)
    spw = _control(page, "spw")
    ids = [re.match(r"spw\s(\d+)", lab).group(1) for lab in _option_labels(spw)]
    antennas = _control(page, "antennas")
    return spw, _options(spw), ids, antennas, _option_labels(antennas)


def test_explorer_selection_changes_are_painted_within_the_budget(lab_server, browser, notebooks_copy):
    page = browser.page
    walls: list[float] = []  # the same changes timed from Playwright's side (its round trips included)
    _timed = functools.partial(_timed_change, log=browser.log, walls=walls)
    spw, spws, ids, antennas, names = _start(page, lab_server, notebooks_copy)
    assert len(spws) >= 2 and len(names) >= 4, (spws, names)
    times: dict[str, list[float]] = {}
    by_wall: dict[str, list[float]] = {}

    def record(key: str, seconds: float) -> None:
        times.setdefault(key, []).append(seconds)
        by_wall.setdefault(key, []).append(walls[-1])

    for tab in ("visibilities", "tsys", "bandpass", "gains"):
        spw.select_option(spws[:1])
        antennas.select_option([])
        _open_tab(page, tab)
        _wait_figures(page)
        if tab == "gains":  # what the page sends the kernel from now on (jupyter_bokeh's comm: one request each)
            _kernel_exec(page, "_sent = []; ex._views['gains'].children[0].on_msg(lambda w, c, b: _sent.append(c))")
        if tab != "visibilities":  # all spws: the panel may grow its slots once
            record(
                f"{tab} first", _timed(page, tab, lambda: spw.select_option(spws), f"spw {ids[-1]}", any_figure=True)
            )
            _timed(page, tab, lambda: spw.select_option(spws[:1]), f"spw {ids[0]}")
        for k in range(4):  # each change differs from the one before it
            s = 1 + k % (len(spws) - 1)
            record(f"{tab} spw", _timed(page, tab, lambda s=s: spw.select_option([spws[s]]), f"spw {ids[s]}"))
            a = names[1 + k]
            record(f"{tab} antennas", _timed(page, tab, lambda a=a: antennas.select_option(label=[a]), a))
        antennas.select_option([])
    browser.screenshot("explorer-speed-last")
    sent_log = notebooks_copy / "explorer-speed-sent.json"
    _kernel_exec(page, f"import json; open({str(sent_log)!r}, 'w').write(json.dumps([c.get('attr') for c in _sent]))")
    sizes = [
        a
        for a in json.loads(sent_log.read_text())
        if a in ("inner_width", "inner_height", "outer_width", "outer_height")
    ]
    slack = max(1.0, _load_per_cpu())
    medians = {k: 1e3 * statistics.median(v) for k, v in times.items()}
    changes = {k: v for k, v in medians.items() if not k.endswith("first")}
    worst = max(changes.values())
    met = worst <= TARGET_MS * slack
    print(
        "\ncontrol -> painted panel (ms, median): "
        + ", ".join(f"{k} {v:.0f}" for k, v in medians.items())
        + "\neach change (ms): "
        + "; ".join(f"{k} " + " ".join(f"{1e3 * t:.0f}" for t in v) for k, v in times.items())
        + "\nfrom Playwright's side (select_option -> the wait's return, its round trips included; ms, median): "
        + ", ".join(f"{k} {1e3 * statistics.median(v):.0f}" for k, v in by_wall.items())
        + f"\nslowest change {worst:.0f} ms; load per CPU {_load_per_cpu():.2f} (slack {slack:.2f}); "
        f"issue 14 target {TARGET_MS:.0f} ms: {'met' if met else 'NOT met'} at this load; "
        f"guard {GUARD_MS:.0f} ms x slack"
    )
    # the plot sizes BokehJS measures stay in the page (``_bokeh.NO_ECHO_JS``): the gains grid going from 24 figures
    # to 2 sent 49 of them, each a kernel request whose replies kept the page busy into the next change (~3 s)
    assert not sizes, f"the page sent the kernel {len(sizes)} plot sizes from the gains panel: {sizes[:8]}"
    if slack > MAX_SLACK:
        pytest.skip(f"load per CPU {slack:.1f} > {MAX_SLACK}: no budget can be judged (slowest {worst:.0f} ms)")
    slow = {k: round(v) for k, v in changes.items() if v > GUARD_MS * slack}
    assert not slow, f"slower than the guard {GUARD_MS:.0f} ms x {slack:.2f}: {slow}"
    browser.log.assert_clean()


def test_explorer_figures_follow_the_window_width(lab_server, browser, notebooks_copy):
    page = browser.page
    spw, spws, ids, antennas, names = _start(page, lab_server, notebooks_copy, width=1400)
    spw.select_option(spws[:2])  # two Tsys panels side by side
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")  # the notebook alone: the window's width
    widths: dict[str, dict[int, float]] = {}
    spans: dict[str, dict[int, float]] = {}
    for window in (1400, 900):
        page.set_viewport_size({"width": window, "height": 1000})
        for tab in ("tsys", "visibilities"):
            _open_tab(page, tab)
            _wait_figures(page)
            page.wait_for_timeout(1500)  # the layout follows the new width
            figs = [f for f in page.evaluate(VISIBLE_FIGURES_JS) if f["title"].startswith(PREFIXES[tab])]
            assert figs, f"{tab}: no figure at {window} px"
            browser.screenshot(f"explorer-width-{tab}-{window}")
            boxes = [(f["title"][:12], round(f["x"]), round(f["width"])) for f in figs]
            assert all(f["x"] >= 0 and f["x"] + f["width"] <= window + 1 for f in figs), (tab, window, boxes)
            widths.setdefault(tab, {})[window] = max(f["width"] for f in figs)
            spans.setdefault(tab, {})[window] = max(f["x"] + f["width"] for f in figs) - min(f["x"] for f in figs)
    print(f"\nwidest figure (px) by window width: {widths}; width of the figures together: {spans}")
    # the Tsys grid's figures are 460 px and the visibilities' 640 px when fixed: wider in a wide window
    assert widths["tsys"][1400] > 500 and widths["visibilities"][1400] > 700, widths
    # narrower window, narrower panel (a grid may fall to one column of wider figures: tests/browser/test_narrow_lab)
    for tab, w in spans.items():
        assert w[900] < 0.85 * w[1400], f"{tab}: the figures did not follow the window ({w})"
    browser.log.assert_clean()
