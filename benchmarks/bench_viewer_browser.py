"""Channel-change latency of the image viewer in a real browser (JupyterLab + headless Chromium), broken down.

Usage: python benchmarks/bench_viewer_browser.py CUBE [--changes 12] [--max-pixels 1024] [--step 37] [--playing]
       [--profile | --trace] [--json OUT]

Starts JupyterLab with the browser tests' harness (``tests/browser/harness.py``) on a scratch folder outside
the repository, opens a notebook showing ``ImageViewer(open_image(CUBE))``, then changes the channel N times
as a user does (type a channel into the slider's readout, press Enter) and records, for each change:

- in the page (``performance.timeOrigin + performance.now()``, ms since the epoch): t0 = the Enter keydown;
  the websocket frames (time, size) sent and received (``WebSocket`` wrapped by an init script);
  the time each BokehJS ``apply_json_patch`` starts/ends; t1 = when the data of the ColumnDataSource named
  'image' changes; t2 = the next animation frame after that (+ a task: the frame was painted);
- in the kernel (``time.time()``, same clock): when the slider's update message is handled (start/end), and
  for every Bokeh document event jupyter_bokeh sends: its kind and the time spent turning it into comm messages
  (Bokeh serialization + ipykernel send) and the bytes of its binary buffers.

The breakdown per change (medians printed; the first change is left out as warm-up):
  request     t0 -> kernel handler start (browser -> kernel: the slider's update message)
  handler     the kernel's handler (read the plane, limits, noise, ...) minus the time spent sending Bokeh events
  serialize   time inside the send of the Bokeh events (Bokeh serialization + comm send)
  plane_sent  handler start -> the kernel has sent the patch that carries the plane
  transport   that send -> the plane's frame arrives in the page (ZMQ, jupyter_server, websocket)
  decode      that arrival -> 'image' source changed: the patch's remaining frames, JupyterLab's deserialization,
              jupyter_bokeh's receiver, BokehJS's decode and apply up to the plane's first colour mapping
  render      'image' changed -> next frame painted (the rest of the patch, the colour callback's recolouring,
              the colour bar, the paint, and whatever else the page does meanwhile: label and statistics)
  first_frame 'image' changed -> the next animation frame starts
  total       t0 -> painted
plus frames and bytes in/out of the page's websockets and the number of BokehJS patches applied.

Examples (the cube of the issue: 2048 x 2048 x 480 float32; a plain FITS file works too)::

    python benchmarks/bench_viewer_browser.py cube.fits --changes 12              # jumps of 37 channels
    python benchmarks/bench_viewer_browser.py cube.fits --step 1 --playing        # Play-like steps
    python benchmarks/bench_viewer_browser.py cube.fits --changes 3 --trace       # where the page's time goes

Nothing is written in the repository; the CUBE is only read.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.browser import harness  # noqa: E402  (the browser tests' harness: server + Chromium)

# Recorded in the page from the first script on: websocket frames in and out, the Enter keydown.
INIT_JS = r"""
(() => {
  const now = () => performance.timeOrigin + performance.now();
  const log = window.__bench = {frames: [], keys: [], patches: [], changes: []};
  const size = (d) => (typeof d === 'string' ? d.length : (d.byteLength !== undefined ? d.byteLength :
                       (d.size !== undefined ? d.size : 0)));
  const Native = window.WebSocket;
  const origSend = Native.prototype.send;
  Native.prototype.send = function (d) { log.frames.push(['out', now(), size(d)]); return origSend.call(this, d); };
  class Wrapped extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => log.frames.push(['in', now(), size(e.data)]));
    }
  }
  window.WebSocket = Wrapped;
  window.addEventListener('keydown', (e) => { if (e.key === 'Enter') log.keys.push(now()); }, true);
})();
"""

# Once BokehJS is up: time every apply_json_patch, and the 'image' source's data changes (+ next frame painted).
HOOK_JS = r"""
() => {
  const now = () => performance.timeOrigin + performance.now();
  const log = window.__bench;
  let hooked = 0;
  for (const doc of window.Bokeh.documents) {
    if (doc.__benchHooked) { hooked++; continue; }
    const src = [...doc.all_models].find((m) => m.name === 'image' && m.data !== undefined);
    if (!src) continue;
    const apply = doc.apply_json_patch.bind(doc);
    doc.apply_json_patch = (patch, buffers) => {
      const t = now();
      try { return apply(patch, buffers); } finally {
        const kinds = (patch.events || []).map((e) => e.kind + (e.attr ? ':' + e.attr : ''));
        log.patches.push([t, now(), kinds.join(',')]);
      }
    };
    src.properties.data.change.connect(() => {
      const t1 = now();
      console.timeStamp('almaview-image-changed');
      const entry = {t1, raf: null, painted: null};
      log.changes.push(entry);
      requestAnimationFrame(() => {
        entry.raf = now();
        console.timeStamp('almaview-raf');
        setTimeout(() => { entry.painted = now(); console.timeStamp('almaview-painted'); }, 0);
      });
    });
    doc.__benchHooked = true;
    hooked++;
  }
  return hooked;
}
"""

# The kernel side, run in the notebook after the viewer is shown: wraps the slider's message handling and
# jupyter_bokeh's per-event send; the log goes to a JSON file when asked.
KERNEL_HOOK = r"""
import json as _json, time as _time
from jupyter_bokeh import BokehModel as _BM
_bench = {"handler": [], "events": []}
_slider = viewer.controls["channel"]
_orig_set_state = _slider.set_state
def _timed_set_state(state, _orig=_orig_set_state):
    t = _time.time()
    try:
        return _orig(state)
    finally:
        _bench["handler"].append([t, _time.time(), state.get("value")])
_slider.set_state = _timed_set_state
_view_cls = type(getattr(viewer, "_bokeh_view", None) or _BM)
if hasattr(_view_cls, "_send_patch"):  # almaview's batched view: one PATCH-DOC per change
    _orig_send_patch = _view_cls._send_patch
    def _timed_send_patch(self, events, _orig=_orig_send_patch):
        t = _time.time()
        _orig(self, events)
        if events:
            _bench["events"].append([t, _time.time(), f"patch of {len(events)} events"])
    _view_cls._send_patch = _timed_send_patch
else:
    _orig_patched = _BM._document_patched
    def _timed_patched(self, event, _orig=_orig_patched):
        t = _time.time()
        _orig(self, event)
        kind = type(event).__name__ + (":" + str(getattr(event, "attr", "")) if hasattr(event, "attr") else "")
        _bench["events"].append([t, _time.time(), kind])
    _BM._document_patched = _timed_patched
_orig_send = _BM.send
def _sized_send(self, content, buffers=None, _orig=_orig_send):
    if buffers:
        _bench["events"].append([_time.time(), _time.time(), "buffer", sum(memoryview(b).nbytes for b in buffers)])
    return _orig(self, content, buffers)
_BM.send = _sized_send
"""


def write_notebook(folder: Path, cube: str, max_pixels: int) -> str:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import almaview as av\nfrom almaview.widgets.image_viewer import ImageViewer\n"
            f"viewer = ImageViewer(av.open_image({cube!r}), max_pixels={max_pixels})\nviewer"
        ),
        nbformat.v4.new_code_cell(KERNEL_HOOK),
    ]
    nbformat.write(nb, str(folder / "viewer-bench.ipynb"))
    return "viewer-bench.ipynb"


def kernel_exec(page, code: str, timeout: float = 60.0) -> None:
    page.evaluate(
        """async (code) => { const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
      await k.requestExecute({code, silent: false, store_history: false}).done; }""",
        code,
    )


def breakdown(change: dict) -> dict:
    """Per-change intervals (ms) from the raw page and kernel records of one change."""
    ms = 1000.0
    t0 = change["t0"]
    h0, h1 = change["handler"]
    sends = [e for e in change["events"] if e[2] != "buffer" and h0 <= e[0] <= h1]  # not the page's replies
    send = sum(e[1] - e[0] for e in sends) * ms
    last_send = max((e[1] for e in sends), default=h1) * ms
    arrivals = [f for f in change["frames_in"]]
    last_in = max((f[1] for f in arrivals), default=float("nan"))
    big = [max(arrivals, key=lambda f: f[2])] if arrivals and max(f[2] for f in arrivals) > 100_000 else []  # the plane
    # the patch that carried the plane: the last send the kernel finished before the plane's frame arrived (the
    # viewer sends the plane in its own patch first, the hover values, beam and title in a later one)
    if big:
        last_send = max((e[1] * ms for e in sends if e[1] * ms <= big[-1][1]), default=last_send)
    out = {
        "request": h0 * ms - t0,
        "handler": (h1 - h0) * ms - send,
        "serialize": send,
        "plane_sent": last_send - h0 * ms,
        "transport": (big[-1][1] if big else last_in) - last_send,
        "decode": change["t1"] - (big[-1][1] if big else last_in),
        "render": change["painted"] - change["t1"],
        "first_frame": change["raf"] - change["t1"],
        "total": change["painted"] - t0,
        "kernel_sends": len(sends),
        "frames_in": len(arrivals),
        "bytes_in": sum(f[2] for f in arrivals),
        "buffer_bytes": sum(e[3] for e in change["events"] if e[2] == "buffer"),
        "frames_out": len(change["frames_out"]),
        "bytes_out": sum(f[2] for f in change["frames_out"]),
        "patches": len(change["patches"]),
        "patch_ms": sum(p[1] - p[0] for p in change["patches"]),
        "image_changes": change["image_changes"],
        "data_at": change["t1"] - t0,
    }
    return out


def run(
    cube: str, changes: int, max_pixels: int, profile: bool, trace: bool = False, step: int = 37, playing: bool = False
) -> dict:
    from playwright.sync_api import sync_playwright

    reason = harness.browser_unavailable()
    if reason:
        raise SystemExit(reason)
    scratch = Path(tempfile.mkdtemp(prefix="almaview-bench-viewer-"))
    root = scratch / "notebooks"
    root.mkdir()
    name = write_notebook(root, cube, max_pixels)
    results: dict = {"cube": cube, "max_pixels": max_pixels, "step": step, "playing": playing, "changes": []}
    with sync_playwright() as p, harness.jupyterlab(root, scratch / "server") as server:
        with harness.launch(p, scratch / "chromium") as (context, log):
            context.add_init_script(INIT_JS)
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(180_000)
            harness.open_in_lab(page, server, name)
            state = harness.run_all_in_lab(page)
            errors = [c["errors"] for c in state["cells"] if c["errors"]]
            if errors:
                raise SystemExit(f"the notebook raised: {errors}")
            harness.wait_for_bokeh(page, n_documents=1)
            page.wait_for_function(HOOK_JS, timeout=60_000)
            label = page.locator("label.widget-label").filter(has_text="channel")
            readout = label.locator("xpath=..").locator(".widget-readout").first
            kernel_log = scratch / "kernel-log.json"
            kernel_exec(page, f"open({str(kernel_log)!r}, 'w').write(_json.dumps({{'nchan': viewer.nchan}}))")
            nchan = json.loads(kernel_log.read_text())["nchan"]
            if playing:  # the viewer's Play-mode resolution, without the Play widget's own ticks
                kernel_exec(page, "viewer.playing = True")
            first = int(readout.inner_text())
            cdp = None
            trace_events: list = []
            if profile or trace:
                cdp = context.new_cdp_session(page)
                cdp.send("Profiler.enable")
                cdp.send("Profiler.setSamplingInterval", {"interval": 200})
                cdp.on("Tracing.dataCollected", lambda e: trace_events.extend(e["value"]))
            targets = [(first + step * (i + 1)) % nchan for i in range(changes)]
            for i, target in enumerate(targets):
                page.evaluate(
                    "() => { const b = window.__bench; b.frames.length = 0; b.keys.length = 0;"
                    " b.patches.length = 0; b.changes.length = 0; }"
                )
                kernel_exec(page, "_bench['handler'].clear(); _bench['events'].clear()")
                page.wait_for_timeout(300)
                page.evaluate("() => { window.__bench.frames.length = 0; }")
                if cdp is not None and i == changes - 1:
                    if trace:
                        cdp.send(
                            "Tracing.start",
                            {"categories": "devtools.timeline,v8.execute,blink", "transferMode": "ReportEvents"},
                        )
                    else:
                        cdp.send("Profiler.start")
                readout.click()
                readout.fill(str(target))
                readout.press("Enter")
                page.wait_for_function(
                    "() => window.__bench.changes.length > 0 && "
                    "window.__bench.changes[window.__bench.changes.length - 1].painted !== null"
                )
                page.wait_for_function(
                    "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'"
                )
                page.wait_for_timeout(400)  # late frames (label, stats, the colour callback's echo)
                prof = None
                if cdp is not None and i == changes - 1:
                    if trace:
                        done = []
                        cdp.on("Tracing.tracingComplete", lambda e: done.append(True))
                        cdp.send("Tracing.end")
                        while not done:
                            page.wait_for_timeout(100)
                        results["trace_top"] = trace_top(trace_events)
                        results["trace_raw"] = trace_events
                    else:
                        prof = cdp.send("Profiler.stop")["profile"]
                b = page.evaluate("() => JSON.parse(JSON.stringify(window.__bench))")
                kernel_exec(page, f"open({str(kernel_log)!r}, 'w').write(_json.dumps(_bench))")
                k = json.loads(kernel_log.read_text())
                if not k["handler"]:
                    raise SystemExit(f"change {i}: the kernel saw no slider update")
                change = {
                    "target": target,
                    "t0": b["keys"][0],
                    "handler": k["handler"][0][:2],
                    "events": k["events"],
                    "frames_in": [f for f in b["frames"] if f[0] == "in"],
                    "frames_out": [f for f in b["frames"] if f[0] == "out"],
                    "patches": b["patches"],
                    "t1": b["changes"][0]["t1"],
                    "raf": b["changes"][0]["raf"],
                    "painted": b["changes"][0]["painted"],
                    "image_changes": len(b["changes"]),
                }
                bd = breakdown(change)
                results["changes"].append({"raw": change, "breakdown": bd})
                print(
                    f"change {i + 1}/{changes} -> channel {target}: "
                    + ", ".join(f"{key} {v:.0f}" if isinstance(v, float) else f"{key} {v}" for key, v in bd.items()),
                    flush=True,
                )
                if prof is not None:
                    results["profile_top"] = profile_top(prof)
                    results["profile_raw"] = prof  # (with --json: callers and inclusive times, e.g. in devtools)
            results["problems"] = log.problems()
    return results


def trace_top(events: list, n: int = 25) -> list[tuple[str, float, int]]:
    """Total duration (ms) and count per trace event name (complete 'X' events of the renderer's main thread)."""
    main = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("name") == "thread_name" and e.get("args", {}).get("name") == "CrRendererMain"
    }
    tot: dict[str, list] = {}
    for e in events:
        if e.get("ph") != "X" or (main and (e["pid"], e["tid"]) not in main):
            continue
        t = tot.setdefault(e["name"], [0.0, 0])
        t[0] += e.get("dur", 0) / 1000.0
        t[1] += 1
    return sorted(((k, v[0], v[1]) for k, v in tot.items()), key=lambda x: -x[1])[:n]


def profile_top(profile: dict, n: int = 25) -> list[tuple[str, float]]:
    """Self time (ms) per function (name, file tail, line) of a CDP CPU profile, largest first."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    deltas = profile.get("timeDeltas", [])
    self_ms: dict[str, float] = {}
    for sample, dt in zip(profile.get("samples", []), deltas):
        f = nodes[sample]["callFrame"]
        key = f"{f['functionName'] or '(anon)'} {f['url'].rsplit('/', 1)[-1][:40]}:{f['lineNumber']}"
        self_ms[key] = self_ms.get(key, 0.0) + dt / 1000.0
    return sorted(self_ms.items(), key=lambda kv: -kv[1])[:n]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cube", help="an image cube (FITS or CASA) to show; only read")
    ap.add_argument("--changes", type=int, default=12)
    ap.add_argument("--max-pixels", type=int, default=1024)
    ap.add_argument("--step", type=int, default=37, help="channels between changes (1: as Play or arrow keys do)")
    ap.add_argument(
        "--playing",
        action="store_true",
        help="changes at the viewer's Play resolution (viewer.playing = True; play_pixels)",
    )
    ap.add_argument("--profile", action="store_true", help="CPU-profile the page during the last change")
    ap.add_argument("--trace", action="store_true", help="trace the page (devtools timeline) during the last change")
    ap.add_argument("--json", help="write the raw records and breakdowns here")
    args = ap.parse_args(argv)
    load0 = os.getloadavg()
    res = run(args.cube, args.changes, args.max_pixels, args.profile, args.trace, args.step, args.playing)
    res["load_average"] = [load0, os.getloadavg()]  # the timings scale with the machine's load: keep it with them
    print(f"load average before/after: {load0[0]:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    rows = [c["breakdown"] for c in res["changes"][1:]] or [c["breakdown"] for c in res["changes"]]
    print(f"\nmedian of {len(rows)} channel changes (first one left out: warm-up), ms:")
    for key in rows[0]:
        print(f"  {key:14s} {statistics.median(r[key] for r in rows):10.1f}")
    if res.get("profile_top"):
        print("\npage CPU self time in the last change (ms):")
        for name, t in res["profile_top"]:
            print(f"  {t:8.1f}  {name}")
    if res.get("trace_top"):
        print("\npage main thread, trace events of the last change (total ms, count):")
        for name, t, count in res["trace_top"]:
            print(f"  {t:8.1f} {count:5d}  {name}")
    if res["problems"]:
        print("\npage problems:", *res["problems"], sep="\n  ")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
