"""The standalone report: self-contained (BokehJS inline, no http(s) resources), holds every EB's panels and the QA
stage list, size bounded; the ``almaview report`` command writes it."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

import almaview as av


@pytest.fixture(scope="session")
def demo(demo_delivery: Path) -> Path:
    """The demo delivery, built once per test session (tests/conftest.py)."""
    return demo_delivery


#: issue 14: ``almaview report`` on the demo in under 10 s on an idle machine
TARGET_S = 10.0
TIMES: dict[str, float] = {}


@pytest.fixture(scope="module")
def report(demo, tmp_path_factory) -> Path:
    from almaview.cli import main

    out = tmp_path_factory.mktemp("report") / "report.html"
    load = os.getloadavg()[0] / (os.cpu_count() or 1)
    t0, c0, k0 = time.perf_counter(), time.process_time(), _children_cpu()
    assert main(["report", str(demo), "-o", str(out), "--no-progress"]) == 0
    cpu = time.process_time() - c0 + _children_cpu() - k0  # + the worker processes that built the EB tabs
    TIMES.update(wall=time.perf_counter() - t0, cpu=cpu, load=load)
    return out


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's ended child processes."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def test_report_time_on_the_demo(report):
    # The CPU seconds of the processes that write the report (this one and the workers that build the EB tabs,
    # one per CPU: on an idle machine, about twice the wall time of the parallel part). A shared machine inflates both (at 4.5 load per CPU the same report took 2x the CPU seconds it takes
    # at 1), so the guard grows with the load measured before the run, up to 2x. The guard catches regressions, it
    # is not the target: the clean-clone CI on an idle machine (load 0.6 per CPU) measured 18.2 CPU s / 18.7 s wall
    # for the demo with its group products and the QA stage pages (about 7,400 Bokeh models), so the 10 s target
    # is printed as met or not, and the guard sits at 3x the target (30 s at load <= 1 per CPU).
    cpu, wall, load = TIMES["cpu"], TIMES["wall"], TIMES["load"]
    met = "met" if wall < TARGET_S else "not met" + (" (machine loaded)" if load > 1 else "")
    print(
        f"report on the demo: {wall:.1f} s wall, {cpu:.1f} CPU s, load {load:.1f} per CPU; target {TARGET_S} s: {met}"
    )
    guard = 3.0 * TARGET_S * min(2.0, max(1.0, load))
    assert cpu < guard, f"{cpu:.1f} CPU s to write the demo's report (guard {guard:.0f} s at load {load:.1f} per CPU)"


def test_report_command_in_a_fresh_process(demo, tmp_path):
    # What a user runs: ``almaview report`` in a new interpreter (imports included; the fixture above runs in this
    # process, where the test collection has imported almaview, Bokeh and dask already). Dask must not import
    # distributed to look for a client that cannot exist (~0.3 s): checked in the child. Timed as above; the 10 s
    # target is printed, the guard is 3x it, with load slack.
    import resource
    import subprocess
    import sys

    out = tmp_path / "report.html"
    child = (
        "import sys\nfrom almaview.cli import main\n"
        f"code = main(['report', {str(demo)!r}, '-o', {str(out)!r}])\n"
        "print('distributed imported:', 'distributed' in sys.modules)\nsys.exit(code)\n"
    )
    root = Path(av.__file__).resolve().parent.parent  # this checkout's almaview, not another install
    load = os.getloadavg()[0] / (os.cpu_count() or 1)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", child], cwd=root, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert run.returncode == 0, run.stderr[-2000:]
    met = "met" if wall < TARGET_S else "not met" + (" (machine loaded)" if load > 1 else "")
    print(
        f"almaview report, fresh process: {wall:.1f} s wall, {cpu:.1f} CPU s, load {load:.1f} per CPU; "
        f"target {TARGET_S} s: {met}"
    )
    assert "distributed imported: False" in run.stdout, run.stdout
    assert out.stat().st_size > 1e6
    # the progress bar covers the page's writing too (it had sat full for ~3 s while the page was serialised):
    # its last state is "writing the page", every part done, one part per EB, per member OUS and the page
    states = re.findall(r"(\d+)/(\d+) \[[^]]*\]", run.stderr)
    assert states and states[-1][0] == states[-1][1], run.stderr[-500:]
    n_ms = sum(1 for p in demo.rglob("*.ms*") if (p / "table.dat").is_file() and (p / "DATA_DESCRIPTION").is_dir())
    n_mous = len(list(demo.glob("science_goal.*/group.*/member.*")))
    assert int(states[-1][1]) == n_ms + n_mous + 1, (states[-1], n_ms, n_mous)
    last = run.stderr.replace("\r", "\n").strip().splitlines()[-1]
    assert "writing the page" in last, last
    guard = 3.0 * TARGET_S * min(2.0, max(1.0, load))
    assert cpu < guard, f"{cpu:.1f} CPU s for almaview report (guard {guard:.0f} s at load {load:.1f} per CPU)"


def test_page_html_is_what_file_html_writes():
    # report.page_html serialises in one walk what bokeh.embed.file_html writes in six: the same document (models,
    # properties, values; ids renamed in order of appearance) and the same BokehJS bundles
    import pandas as pd
    from bokeh.embed import file_html
    from bokeh.models import ColumnDataSource, Div, TabPanel, Tabs
    from bokeh.resources import INLINE

    from almaview.plots._common import column, figure, table
    from almaview.plots.grid import grid
    from almaview.report import page_html

    def layout():
        src = ColumnDataSource({"t": [1.0, 2.0], "y": [3.0, 4.0], "a": ["DA41", "DA42"]})
        figs = [figure("gains", "time", "phase (deg)", x_datetime=True) for _ in range(2)]
        for f in figs:
            f.scatter("t", "y", source=src, legend_label="DA41")
        t, _ = table(pd.DataFrame({"antenna": ["DA41"], "tsys": [80.0]}))
        return column(
            [Div(text="<b>EB</b>"), Tabs(tabs=[TabPanel(child=grid(figs), title="A"), TabPanel(child=t, title="B")])]
        )

    def doc(page: str) -> str:
        (block,) = _docs(page)
        (d,) = block.values()
        d.pop("title")  # file_html's document is "Bokeh Application"; the page's <title> is the same in both
        ids: dict[str, str] = {}
        return re.sub(r'"p\d+"', lambda m: ids.setdefault(m.group(0), f'"m{len(ids)}"'), json.dumps(d, sort_keys=True))

    ours, bokehs = page_html(layout(), "a report"), file_html(layout(), INLINE, title="a report")
    assert doc(ours) == doc(bokehs)
    scripts = re.compile(r"<script\b[^>]*>(.*?)</script>", re.S)
    bundle = [len(s) for s in scripts.findall(ours)[:-2]]
    assert bundle == [len(s) for s in scripts.findall(bokehs)[:-2]] and sum(bundle) > 1e6  # BokehJS + widgets + tables
    assert "<title>a report</title>" in ours


@pytest.mark.parametrize("kinds", [(), ("table",), ("div",), ("webgl",), ("tex",), ("table", "webgl", "tex")])
def test_tabbed_page_bundles_are_bokehs_choice(kinds):
    # The tabbed page picks BokehJS's optional bundles (widgets, tables, GL, MathJax) from what each tab needs (a
    # tab may come serialised from a worker process): the same scripts Bokeh's own choice from the models gives
    from bokeh.embed.bundle import bundle_for_objs_and_resources
    from bokeh.models import Div
    from bokeh.resources import INLINE

    from almaview.plots._common import column, figure, table
    from almaview.report_page import tabbed_page_html

    def layout():
        f = figure("gains", "time", "phase (deg)", output_backend="webgl" if "webgl" in kinds else "canvas")
        f.scatter([1, 2], [3, 4])
        if "tex" in kinds:
            f.yaxis.axis_label = r"$$\phi$$ (deg)"
        parts = [f]
        if "table" in kinds:
            import pandas as pd

            parts.append(table(pd.DataFrame({"antenna": ["DA41"]}))[0])
        if "div" in kinds:
            parts.append(Div(text="<b>EB</b>"))
        return column(parts) if len(parts) > 1 else f

    page = tabbed_page_html("r", "", [("one", layout()), ("two", figure())])
    js, css = bundle_for_objs_and_resources([layout(), figure()], INLINE)
    assert f"</style>\n{css}\n{js}\n</head>" in page  # exactly these, nothing more


def test_report_workers_only_where_fork_is_safe():
    # forked workers only in a process running no other thread (a notebook's kernel runs several: the tabs are
    # built there one after the other), never more than one per EB; asked for, as many as asked (up to one per EB)
    import threading

    from almaview.report import _processes

    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert _processes(5, None) == 1
    finally:
        stop.set()
        other.join()
    assert _processes(1, None) == 1 and _processes(5, 1) == 1 and _processes(2, 4) == 2


def _die(k: int) -> None:
    os._exit(3)  # a worker process killed (as by a crash in a C library)


def test_report_fails_when_a_worker_dies(demo, tmp_path, monkeypatch):
    # a worker that dies fails the report (an error), it does not leave it waiting for the tab forever
    from concurrent.futures.process import BrokenProcessPool

    from almaview import report

    monkeypatch.setattr(report, "_worker_tab", _die)
    with pytest.raises(BrokenProcessPool):
        report.build_report(demo, tmp_path / "report.html", progress=False, processes=2)
    assert not (tmp_path / "report.html").exists()


def test_report_built_in_worker_processes_is_the_same_page(demo, tmp_path):
    # The EB tabs built in forked worker processes (what ``almaview report`` does with 2 CPUs and more) or here, one
    # after the other: the same page (documents with ids renamed in order of appearance, the rest of the page with
    # its random document and element ids taken out); the model ids of the parallel page unique across its tabs
    import html as htmllib

    from almaview.report import build_report

    def parts(page: str) -> tuple[list[str], str, list[set[str]]]:
        blocks = re.findall(r'<script type="application/json" id="almaview-doc-\d+">(.*?)</script>', page, re.S)
        docs, ids_per_tab = [], []
        for b in blocks:
            ((_, doc),) = json.loads(htmllib.unescape(b)).items()
            text, ids = json.dumps(doc, sort_keys=True), {}
            ids_per_tab.append(set(re.findall(r'"id": "(p\d+)"', text)))
            docs.append(re.sub(r'"p\d+"', lambda m: ids.setdefault(m.group(0), f'"m{len(ids)}"'), text))
        rest = re.sub(r'<script type="application/json".*?</script>', "", page, flags=re.S)
        rest = re.sub(r'(id|data-root-id)="[^"]*"|"(docid|root_ids|roots)":\s*(\{[^}]*\}|\[[^\]]*\]|"[^"]*")', "", rest)
        return docs, rest, ids_per_tab

    here = parts(build_report(demo, tmp_path / "here.html", progress=False, processes=1).read_text())
    workers = parts(build_report(demo, tmp_path / "workers.html", progress=False, processes=2).read_text())
    assert len(here[0]) == len(workers[0]) >= 6 and sum(map(len, here[0])) > 5e6
    for k, (a, b) in enumerate(zip(here[0], workers[0])):
        assert a == b, f"tab {k}"
    assert here[1] == workers[1]
    every = [i for ids in workers[2] for i in ids]
    assert len(every) == len(set(every)) > 5000, "a model id is in two tabs"


def _docs(html: str) -> list[dict]:
    """The Bokeh documents embedded in the page (the JSON script tag of bokeh.embed.file_html)."""
    blocks = re.findall(r'<script type="application/json" id="[^"]+">\s*(.*?)\s*</script>', html, re.S)
    return [json.loads(b) for b in blocks]


def test_report_is_self_contained(report):
    html = report.read_text()
    # no external resources: scripts/styles/images only inline
    assert not re.search(r'<(script|link|img)\b[^>]*\b(src|href)\s*=\s*["\']?(https?:)?//', html, re.I)
    assert "Bokeh" in html and len(re.findall(r"<script\b", html)) >= 2  # BokehJS inlined
    assert report.stat().st_size < 30e6


def test_report_holds_every_eb_and_qa(report, demo):
    d = av.open_delivery(demo)
    html = report.read_text()
    docs = _docs(html)
    assert len(docs) == len(d.ebs) + sum(m.qa.aqua is not None or bool(m.qa.weblog_archives) for m in d.mous)
    text = json.dumps(docs) + html  # one document per tab (drawn when opened); the tab labels are the page's
    for eb in d.ebs:
        assert f"EB {eb.uid}" in text
    for title in ("overview", "Tsys", "bandpass", "gains", "Antenna positions", "uv coverage"):
        assert f'"{title}' in text or title in text, title
    for m in d.mous:
        if m.qa.aqua is not None:
            assert f"QA {m.uid}" in text
            worst = min(m.qa.aqua.stages, key=lambda s: s.score)
            assert worst.reason.replace('"', "") in text.replace('\\"', "")


def _models(obj, out: dict[str, int]) -> dict[str, int]:
    """Count the Bokeh models of a serialised document by type (every ``{"type": "object", "id": ...}``)."""
    if isinstance(obj, dict):
        if obj.get("type") == "object" and "id" in obj and "name" in obj:
            out[obj["name"]] = out.get(obj["name"], 0) + 1
        for v in obj.values():
            _models(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _models(v, out)
    return out


def test_report_model_count_is_bounded(report):
    # Serialising, shipping and loading cost about the same per model; the count does not depend on the machine's
    # load, the wall time does. The demo's report had 18,555 models (~80 s on a loaded 2-core machine); with gains
    # per spw, shared axis models and filters, and glyph copies made in the page it has ~7,200.
    # One document per tab (drawn when opened): models are shared within a tab's document, not across them.
    counts: dict[str, int] = {}
    for doc in _docs(report.read_text()):
        one = _models(doc, {})
        assert one.get("DaysTicker", 0) <= 4 and one.get("YearsTicker", 0) <= 1, "a tab's datetime axes share a ticker"
        for k, v in one.items():
            counts[k] = counts.get(k, 0) + v
    total = sum(counts.values())
    print(f"report models: {total}; most: {sorted(counts.items(), key=lambda kv: -kv[1])[:6]}")
    assert total < 9_000, f"{total} Bokeh models in the report (bound 9,000)"
    renderers = counts["GlyphRenderer"]
    glyphs = sum(counts.get(g, 0) for g in ("Scatter", "MultiLine", "Image", "Line", "Rect", "Quad", "Text"))
    assert glyphs < 1.3 * renderers, f"{glyphs} glyphs for {renderers} renderers: non-selection copies serialised"


def test_report_qa_stages_open_their_weblog_page(report, demo):
    # A click on a stage (its row's link or its bar) shows the stage's page in the report: every stage's page is in
    # the page, sanitised, in a sandboxed frame. The heading is read from the weblog archive itself (tarfile).
    import html as htmllib
    import tarfile

    d = av.open_delivery(demo)
    text = report.read_text()
    m = next(m for m in d.mous if m.qa.aqua is not None and m.qa.weblog_archives)
    worst = min(m.qa.aqua.stages, key=lambda s: s.score)
    with tarfile.open(m.qa.weblog_archives[0]) as tar:
        member = next(x for x in tar.getmembers() if x.name.endswith(f"/stage{worst.number}/t2-4m_details.html"))
        page = tar.extractfile(member).read().decode()
    heading = re.search(r"<h1>([^<]+)", page).group(1)
    assert heading.startswith(f"{worst.number}. {worst.name}")
    framed = htmllib.escape(htmllib.escape(f"<h1>{heading}", quote=True), quote=False)  # srcdoc, then the page's JSON
    assert json.dumps(framed)[1:-1] in text, "the stage page is not in the report"
    assert htmllib.escape(f"{worst.number} {worst.name}</span>", quote=False) in text  # its link in the table
    assert "iframe class='almaview-stage-frame' sandbox=''" in text  # nothing in a shown page runs


def test_report_reads_each_ms_once(demo, tmp_path, monkeypatch):
    """Issue 14: ``almaview report`` read each EB's MS twice (the delivery's field and spw listing, then the EB's
    panels). Counted from a cold start at the one reader every ``open_ms`` goes through (``io.ms.build_tree``):
    each calibrated MS of the delivery (as its folders list them) once."""
    from collections import Counter

    from almaview.io import ms as msmod
    from almaview.report import build_report

    want = {
        os.path.realpath(p)
        for p in demo.rglob("*.ms*")
        if (p / "table.dat").is_file() and (p / "DATA_DESCRIPTION").is_dir()  # an MS, not a caltable
    }
    calls: Counter = Counter()
    real = msmod.build_tree
    monkeypatch.setattr(msmod, "build_tree", lambda p: (calls.update([os.path.realpath(p)]), real(p))[1])
    msmod.forget_trees()
    build_report(demo, tmp_path / "report.html", progress=False)
    print(f"MS reads: {dict(Counter(calls.values()))} (reads: number of MSs)")
    assert len(want) == 5 and set(calls) == want and set(calls.values()) == {1}, calls
