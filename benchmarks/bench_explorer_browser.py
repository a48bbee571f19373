"""Explorer selection changes in a real browser (JupyterLab + headless Chromium), broken down per tab.

Usage: python benchmarks/bench_explorer_browser.py [--changes 4] [--tabs tsys,bandpass] [--profile] [--alternate]
       [--css-vars] [--all-antennas] [--json OUT] [--profile-out DIR]

Starts JupyterLab with the browser tests' harness (``tests/browser/harness.py``) on a scratch folder outside the
repository, opens a notebook showing ``av.explore(av.open_delivery(av.demo.build()))``, and on each tab changes the
spw, then the antenna, through the page's own controls (``select_option``, as the speed test
``tests/browser/test_explorer_speed_lab.py`` does). For each change it records, on one clock (ms since the epoch:
``performance.timeOrigin + performance.now()`` in the page, ``time.time()`` in the kernel):

- t0: the control's ``change`` event in the page;
- kernel: ``Explorer.apply`` (the handler of the selection change) start/end, ``_install`` (a background read's
  panel) start/end, each PATCH-DOC sent (``explorer_update._send_patch``: time, events, buffers, bytes);
- page: the websocket frames received (time, bytes), each BokehJS ``apply_json_patch`` (start/end, the events);
- named: the first animation frame in which every visible figure of the tab names the new selection (a cheap
  check on the Bokeh models, no pixel read), and painted: a task after that frame's paint;
- CDP ``Performance.getMetrics`` before/after: the page's script, layout and style-recalc time in the change.

Breakdown (ms, median over the changes of a kind): request (t0 -> handler start), kernel (handler start -> last
patch sent, serialisation included), serialize (inside the sends), transport (last send -> last frame in the page),
apply (BokehJS applying the patches), after (last patch applied -> named -> painted), total (t0 -> painted); plus
frames, bytes and patches per change. ``--profile`` adds the page's CPU self time per function for the changes.

Nothing is written in the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.browser import harness  # noqa: E402

# Recorded from the first script on: websocket frames in, the control changes.
INIT_JS = r"""
(() => {
  const now = () => performance.timeOrigin + performance.now();
  const log = window.__bench = {frames: [], out: [], changes: [], patches: []};
  const size = (d) => (typeof d === 'string' ? d.length : (d.byteLength !== undefined ? d.byteLength :
                       (d.size !== undefined ? d.size : 0)));
  const Native = window.WebSocket;
  const origSend = Native.prototype.send;
  Native.prototype.send = function (d) { log.out.push([now(), size(d)]); return origSend.call(this, d); };
  class Wrapped extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => log.frames.push([now(), size(e.data)]));
    }
  }
  window.WebSocket = Wrapped;
  window.addEventListener('change', (e) => { if (e.target && e.target.tagName === 'SELECT') log.changes.push(now()); },
                          true);
})();
"""

# Every Bokeh document's apply_json_patch timed (documents shown later are hooked at the next call).
HOOK_JS = r"""
() => {
  const now = () => performance.timeOrigin + performance.now();
  const log = window.__bench;
  for (const doc of window.Bokeh.documents) {
    if (doc.__benchHooked) continue;
    const apply = doc.apply_json_patch.bind(doc);
    doc.apply_json_patch = (patch, buffers) => {
      const t = now();
      try { return apply(patch, buffers); } finally {
        const kinds = (patch.events || []).map((e) => e.kind + (e.attr ? ':' + e.attr : ''));
        log.patches.push([t, now(), kinds.length]);
      }
    };
    doc.__benchHooked = true;
  }
  return true;
}
"""

# Resolves with [named, painted]: the first frame in which every visible figure whose title starts with one of the
# prefixes names the pattern (title or legend), then a task after that frame (painted).
NAMED_JS = r"""
([prefixes, pattern, any]) => new Promise((resolve) => {
  const now = () => performance.timeOrigin + performance.now();
  const re = new RegExp(pattern);
  const label = (it) => { const l = it.label; return l == null ? '' : (typeof l === 'string' ? l : (l.value ?? '')); };
  const check = () => {
    const figs = [];
    for (const doc of window.Bokeh.documents) for (const m of doc.all_models) {
      if (!m.renderers || !m.toolbar || !m.left || m.visible === false) continue;
      const t = m.title ? m.title.text : '';
      if (!prefixes.some((p) => t.startsWith(p))) continue;
      const v = window.Bokeh.index.find_one(m);
      if (!v || v.el.offsetParent === null) continue;
      const legend = [...m.center, ...m.right].filter((l) => l.items).flatMap((l) => l.items)
        .filter((it) => it.visible !== false).map(label);
      figs.push(t + ' | ' + legend.join(' | '));
    }
    return figs.length && (any ? figs.some((f) => re.test(f)) : figs.every((f) => re.test(f)));
  };
  const t0 = now();
  const frame = () => {
    if (now() - t0 > 60000) resolve([NaN, NaN]);
    else if (check()) { const named = now(); setTimeout(() => resolve([named, now()]), 0); }
    else requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
})
"""

KERNEL_HOOK = r"""
import json as _json, time as _time
import almaview.widgets.explorer_update as _eu
_bench = {"apply": [], "install": [], "sends": []}
_orig_apply, _orig_install = ex.apply, ex._install
def _timed_apply(changed, _orig=_orig_apply):
    t = _time.time()
    try:
        return _orig(changed)
    finally:
        _bench["apply"].append([t, _time.time(), sorted(changed)])
def _timed_install(tab, new, _orig=_orig_install):
    t = _time.time()
    try:
        return _orig(tab, new)
    finally:
        _bench["install"].append([t, _time.time(), tab])
ex.apply, ex._install = _timed_apply, _timed_install
_orig_send_patch = _eu._send_patch
def _timed_send_patch(view, events, _orig=_orig_send_patch):
    from bokeh.protocol import Protocol
    t = _time.time()
    _orig(view, events)
    t1 = _time.time()
    msg = Protocol().create("PATCH-DOC", events)
    _bench["sends"].append([t, t1, len(events), len(msg.buffers), len(msg.content_json),
                            sum(len(b.to_bytes()) for b in msg.buffers)])
_eu._send_patch = _timed_send_patch
"""

PREFIXES = {
    "visibilities": ("Amplitude", "Phase"),
    "tsys": ("Tsys · ",),
    "bandpass": ("Bandpass ",),
    "gains": ("Gain ",),
}


def kernel_exec(page, code: str) -> None:
    page.evaluate(
        """async (code) => { const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
      await k.requestExecute({code, silent: false, store_history: false}).done; }""",
        code,
    )


def breakdown(c: dict) -> dict:
    """Per-change intervals (ms) from the raw page and kernel records of one change."""
    ms = 1000.0
    t0 = c["t0"]
    starts = [a[0] for a in c["apply"]] or [float("nan")]
    sends = c["sends"]
    last_send = max([s[1] for s in sends], default=max([a[1] for a in c["apply"] + c["install"]], default=0)) * ms
    frames = [f for f in c["frames"] if f[0] >= t0]
    last_in = max((f[0] for f in frames), default=float("nan"))
    patches = [p for p in c["patches"] if p[0] >= t0]
    last_patch = max((p[1] for p in patches), default=last_in)
    return {
        "request": starts[0] * ms - t0,
        "kernel": last_send - starts[0] * ms,
        "serialize": sum(s[1] - s[0] for s in sends) * ms,
        "transport": last_in - last_send,
        "apply": sum(p[1] - p[0] for p in patches),
        "to_named": c["named"] - last_patch,
        "to_painted": c["painted"] - c["named"],
        "total": c["painted"] - t0,
        "patches_sent": len(sends),
        "events": sum(s[2] for s in sends),
        "json_kB": sum(s[4] for s in sends) / 1e3,
        "binary_kB": sum(s[5] for s in sends) / 1e3,
        "frames_in": len(frames),
        "frames_out": len(c["out"]),
        "out_kB": sum(f[1] for f in c["out"]) / 1e3,
        "script": c["metrics"].get("ScriptDuration", 0) * ms,
        "layout": c["metrics"].get("LayoutDuration", 0) * ms,
        "style": c["metrics"].get("RecalcStyleDuration", 0) * ms,
        "task": c["metrics"].get("TaskDuration", 0) * ms,
    }


def _metrics(cdp) -> dict:
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


def run(
    changes: int,
    tabs: list[str],
    profile: bool,
    alternate: bool = False,
    echo: bool = False,
    css_vars: bool = False,
    all_antennas: bool = False,
    profile_out: str | None = None,
) -> dict:
    from playwright.sync_api import sync_playwright

    from tests.browser.test_explorer_lab import _control, _open_tab, _option_labels, _options, _wait_figures

    reason = harness.browser_unavailable()
    if reason:
        raise SystemExit(reason)
    scratch = Path(tempfile.mkdtemp(prefix="almaview-bench-explorer-"))
    root = scratch / "notebooks"
    root.mkdir()
    hook = KERNEL_HOOK + ("\nimport almaview.widgets.app as _app\n_app.NO_ECHO = False\n" if echo else "")
    cells = ["import almaview as av\n\nd = av.open_delivery(av.demo.build())\nex = av.explore(d)\nex", hook]
    name = harness.write_notebook(root, "explorer-bench.ipynb", cells)
    kernel_log = scratch / "kernel-log.json"
    results: dict = {"changes": [], "profiles": {}}
    with sync_playwright() as p, harness.jupyterlab(root, scratch / "server") as server:
        with harness.launch(p, scratch / "chromium", width=1400, height=1000) as (context, log):
            # --css-vars: the page-side patches off in almaview's documents (NO_CSS_VARS_JS, LEGEND_JS: the baseline)
            context.add_init_script(INIT_JS + ("\nwindow.__almaview_css_vars = true;\n" if css_vars else ""))
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(180_000)
            harness.open_in_lab(page, server, name)
            print("notebook open", flush=True)
            state = harness.run_all_in_lab(page)
            if any(c["errors"] for c in state["cells"]):
                raise SystemExit(f"the notebook raised: {state['cells']}")
            _wait_figures(page)
            cdp = context.new_cdp_session(page)
            cdp.send("Performance.enable")
            if profile:
                cdp.send("Profiler.enable")
                cdp.send("Profiler.setSamplingInterval", {"interval": 250})
            spw, antennas = _control(page, "spw"), _control(page, "antennas")
            spws = _options(spw)
            ids = [re.match(r"spw\s(\d+)", lab).group(1) for lab in _option_labels(spw)]
            names = _option_labels(antennas)
            for tab in tabs:
                spw.select_option(spws[:1])
                antennas.select_option([])
                _open_tab(page, tab)
                _wait_figures(page)
                page.wait_for_timeout(1500)
                if tab != "visibilities":  # room for every spw (as the speed test's first change)
                    spw.select_option(spws)
                    page.wait_for_timeout(3000)
                    spw.select_option(spws[:1])
                    page.wait_for_timeout(2000)
                plan = []
                for k in range(changes):
                    s = 1 + k % (len(spws) - 1)
                    plan.append(("spw", lambda s=s: spw.select_option([spws[s]]), f"spw {ids[s]}"))
                    a = names[1 + k % (len(names) - 1)]
                    if not all_antennas:
                        plan.append(("antennas", lambda a=a: antennas.select_option(label=[a]), a))
                if profile:
                    cdp.send("Profiler.start")
                for i, (kind, do, token) in enumerate(plan):
                    if alternate:  # arrays inline in the patch's JSON or as binary buffers (the default), in turn
                        inline = (i // 2) % 2 == 0
                        kernel_exec(page, f"_eu.INLINE_ARRAYS = {inline}")
                        kind = f"{kind} {'inline' if inline else 'buffers'}"
                    page.evaluate(HOOK_JS)
                    page.wait_for_timeout(400)
                    page.evaluate(
                        "() => { const b = window.__bench; b.frames.length = b.changes.length = b.out.length = 0;"
                        " b.patches.length = 0; }"
                    )
                    kernel_exec(page, "for _v in _bench.values(): _v.clear()")
                    page.wait_for_timeout(100)
                    page.evaluate("() => { window.__bench.frames.length = window.__bench.out.length = 0; }")
                    m0 = _metrics(cdp)
                    pattern = r"(^|\W)" + re.escape(token) + r"($|\W)"
                    page.evaluate(
                        "([f, a]) => { window.__named = eval(f)(a); return true; }",
                        [NAMED_JS, [list(PREFIXES[tab]), pattern, False]],
                    )
                    do()
                    named_at, painted_at = page.evaluate("() => window.__named")
                    m1 = _metrics(cdp)
                    page.wait_for_timeout(300)  # late frames
                    b = page.evaluate("() => JSON.parse(JSON.stringify(window.__bench))")
                    kernel_exec(page, f"open({str(kernel_log)!r}, 'w').write(_json.dumps(_bench))")
                    k = json.loads(kernel_log.read_text())
                    c = {
                        "tab": tab,
                        "kind": kind,
                        "t0": b["changes"][0] if b["changes"] else float("nan"),
                        "named": named_at,
                        "painted": painted_at,
                        "frames": b["frames"],
                        "out": b["out"],
                        "patches": b["patches"],
                        "metrics": {key: m1.get(key, 0) - m0.get(key, 0) for key in m1},
                        **k,
                    }
                    bd = breakdown(c)
                    results["changes"].append({"raw": c, "breakdown": bd})
                    print(
                        f"{tab} {kind} -> {token}: "
                        + ", ".join(
                            f"{key} {v:.0f}" if isinstance(v, float) else f"{key} {v}" for key, v in bd.items()
                        ),
                        flush=True,
                    )
                if profile:
                    prof = cdp.send("Profiler.stop")["profile"]
                    results["profiles"][tab] = profile_top(prof)
                    if profile_out:  # the raw profile: DevTools' Performance panel loads it
                        Path(profile_out).mkdir(parents=True, exist_ok=True)
                        (Path(profile_out) / f"{tab}.cpuprofile").write_text(json.dumps(prof))
            results["problems"] = log.problems()
    return results


def profile_top(profile: dict, n: int = 30) -> list[tuple[str, float]]:
    """Self time (ms) per function (name, file tail, line) of a CDP CPU profile, largest first."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    self_ms: dict[str, float] = {}
    for sample, dt in zip(profile.get("samples", []), profile.get("timeDeltas", [])):
        f = nodes[sample]["callFrame"]
        key = f"{f['functionName'] or '(anon)'} {f['url'].rsplit('/', 1)[-1][:40]}:{f['lineNumber']}"
        self_ms[key] = self_ms.get(key, 0.0) + dt / 1000.0
    return sorted(self_ms.items(), key=lambda kv: -kv[1])[:n]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--changes", type=int, default=4, help="spw and antenna changes per tab")
    ap.add_argument("--tabs", default="visibilities,tsys,bandpass,gains")
    ap.add_argument("--profile", action="store_true", help="CPU-profile the page during each tab's changes")
    ap.add_argument(
        "--alternate", action="store_true", help="changes in turn with arrays inline in the patch and as buffers"
    )
    ap.add_argument("--echo", action="store_true", help="panels shown after the first echo the kernel's changes back")
    ap.add_argument(
        "--css-vars",
        action="store_true",
        help="without the page-side patches: BokehJS reads its CSS variables and font size, rebuilds legends (baseline)",
    )
    ap.add_argument("--all-antennas", action="store_true", help="spw changes only, every antenna shown")
    ap.add_argument("--json", help="write the raw records and breakdowns here")
    ap.add_argument("--profile-out", help="with --profile: write each tab's CPU profile (.cpuprofile) in this folder")
    args = ap.parse_args(argv)
    load0 = os.getloadavg()
    res = run(
        args.changes,
        args.tabs.split(","),
        args.profile,
        args.alternate,
        args.echo,
        args.css_vars,
        args.all_antennas,
        args.profile_out,
    )
    res["load_average"] = [load0, os.getloadavg()]
    print(f"\nload average before/after: {load0[0]:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    groups: dict[tuple, list] = {}
    for c in res["changes"]:
        groups.setdefault((c["raw"]["tab"], c["raw"]["kind"]), []).append(c["breakdown"])
    keys = list(res["changes"][0]["breakdown"])
    print("median per change (ms, kB, counts):\n" + "change".ljust(22) + "".join(f"{k[:10]:>11s}" for k in keys))
    for (tab, kind), rows in groups.items():
        print(f"{tab} {kind}".ljust(22) + "".join(f"{statistics.median(r[k] for r in rows):11.1f}" for k in keys))
    for tab, top in res["profiles"].items():
        print(f"\npage CPU self time, {tab} changes (ms):")
        for fn, t in top[:20]:
            print(f"  {t:8.1f}  {fn}")
    if res["problems"]:
        print("\npage problems:", *res["problems"], sep="\n  ")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
