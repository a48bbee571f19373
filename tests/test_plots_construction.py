"""plots._construction.quick_models: Bokeh models built without the default models Bokeh builds and throws away
give the same document (same models, same property values; ids aside) as Bokeh's own construction, with fewer
models made; sets after construction (in a document, with callbacks) are Bokeh's own."""

from __future__ import annotations

import html
import json
import re
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable

import pytest

from almaview.plots._construction import quick_models, supported


def _document(*roots: Any) -> str:
    """The roots as Bokeh's own serialiser writes a document of them, ids renamed in order of appearance."""
    from bokeh.document import Document

    doc = Document()
    for r in roots:
        doc.add_root(r)
    out = doc.to_json(deferred=False)
    out.pop("title", None)
    ids: dict[str, str] = {}
    return re.sub(r'"p\d+"', lambda m: ids.setdefault(m.group(0), f'"m{len(ids)}"'), json.dumps(out, sort_keys=True))


def _built(make: Callable[[], Any], quick: bool) -> tuple[Any, int]:
    """What ``make()`` returns, and how many Bokeh models were constructed to make it."""
    from bokeh.model import Model

    count = [0]
    real = Model.__init__

    def counting(self: Any, *a: Any, **k: Any) -> None:
        count[0] += 1
        real(self, *a, **k)

    Model.__init__ = counting  # type: ignore[method-assign]
    try:
        with quick_models() if quick else nullcontext():
            out = make()
    finally:
        Model.__init__ = real  # type: ignore[method-assign]
    return out, count[0]


def _slot_page() -> Any:
    """A slot grid as the caltable panels make it (figures, renderers with views and filters, legends, hover)."""
    from bokeh.models import ColumnDataSource

    from almaview.plots._common import column, figure
    from almaview.plots.grid import grid
    from almaview.plots.slots import Layer, Slot, fill, slot_grid

    src = ColumnDataSource({"x": [1.0, 2.0, 3.0], "y": [3.0, 4.0, 5.0], "panel": [0, 0, 1], "cat": [0, 1, 0]})
    g = slot_grid(
        {"p": src},
        [Layer("p", "p", "scatter", "x", "y", props={"size": 3})],
        2,
        {"p": 2},
        lambda k: figure("", "time (UTC)", "phase (deg)", x_datetime=True),
        legend_title="antenna",
        tooltips=[("x", "@x")],
    )
    fill(g, [Slot("spw 0", {"p": [("DA41", "red"), ("DA42", "blue")]}), Slot("spw 1", {"p": [("DA41", "red")]})])
    return column([grid(g.figures)])


@pytest.mark.skipif(not supported(), reason="a Bokeh version quick_models does not know")
def test_slot_grid_same_document_fewer_models():
    plain, n_plain = _built(_slot_page, quick=False)
    quick, n_quick = _built(_slot_page, quick=True)
    print(f"slot grid page: {n_plain} models constructed plain, {n_quick} with quick_models")
    assert _document(quick) == _document(plain)
    # per renderer (4): the renderer's default view and that view's default filter, the given view's default filter
    assert n_plain - n_quick >= 3 * 4


@pytest.mark.skipif(not supported(), reason="a Bokeh version quick_models does not know")
def test_given_values_kept_and_defaults_made():
    from bokeh.models import AllIndices, CDSView, ColumnDataSource, GlyphRenderer, IndexFilter, Plot, Scatter

    with quick_models() as on:
        f = IndexFilter(indices=[2])
        r = GlyphRenderer(data_source=ColumnDataSource(), glyph=Scatter(), view=CDSView(filter=f))
        v = CDSView()  # not given: its default filter is made, as Bokeh makes it
        p = Plot(title="a plot")  # a value converted by the property (str -> Title)
    assert on
    assert r.view.filter is f and isinstance(v.filter, AllIndices) and p.title.text == "a plot"
    with pytest.raises(ValueError):  # still validated
        with quick_models():
            GlyphRenderer(data_source=ColumnDataSource(), glyph=Scatter(), view=ColumnDataSource())


@pytest.mark.skipif(not supported(), reason="a Bokeh version quick_models does not know")
def test_sets_after_construction_are_bokehs():
    # a model in a document, changed inside the block: the change reaches its callbacks and the document's events
    from bokeh.document import Document
    from bokeh.models import AllIndices, CDSView, IndexFilter

    doc = Document()
    with quick_models():
        v = CDSView()
    doc.add_root(v)
    seen, events = [], []
    v.on_change("filter", lambda attr, old, new: seen.append((type(old).__name__, type(new).__name__)))
    doc.callbacks.on_change(lambda event: events.append(type(event).__name__))
    with quick_models():
        v.filter = IndexFilter(indices=[1])
    assert seen == [("AllIndices", "IndexFilter")] and events == ["ModelChangedEvent"]
    assert isinstance(AllIndices(), AllIndices)


def test_unknown_bokeh_changes_nothing(monkeypatch):
    import bokeh
    from bokeh.models import CDSView, IndexFilter

    def make() -> Any:
        return CDSView(filter=IndexFilter(indices=[0]))

    known = supported()
    _, quick = _built(make, quick=True)
    monkeypatch.setattr(bokeh, "__version__", "4.0.0")
    assert not supported()
    _, unknown = _built(make, quick=True)
    _, plain = _built(make, quick=False)
    assert unknown == plain == 3  # the view, its filter, and the view's default filter, made before setting it
    assert quick == (2 if known else 3)


@pytest.mark.skipif(not supported(), reason="a Bokeh version quick_models does not know")
def test_demo_report_panels_same_document(demo_delivery: Path):
    # Every panel the report shows for the demo's first EB (overview, Tsys, bandpass, gains, from the real tables):
    # the same document with and without quick_models, in fewer model constructions
    from almaview.report import report_panels
    from almaview.widgets.sources import ebs_of

    import almaview as av

    eb = ebs_of(av.open_delivery(demo_delivery))[0]
    plain, n_plain = _built(lambda: report_panels(eb), quick=False)
    quick, n_quick = _built(lambda: report_panels(eb), quick=True)
    assert [t for t, _ in plain] == [t for t, _ in quick] == ["overview", "Tsys", "bandpass", "gains"]
    print(f"demo EB panels: {n_plain} models constructed plain, {n_quick} with quick_models")
    for (title, a), (_, b) in zip(plain, quick):
        assert _document(b) == _document(a), title
    assert n_quick < 0.85 * n_plain


@pytest.mark.skipif(not supported(), reason="a Bokeh version quick_models does not know")
def test_demo_report_same_page(demo_delivery: Path, tmp_path: Path, monkeypatch):
    # The whole demo report (every EB's tabs, the QA tabs; compacted, stretched, serialised) with quick_models
    # and with Bokeh's own construction: the same documents, ids aside
    from almaview.plots import _construction
    from almaview.report import build_report

    def docs(page: str) -> list[str]:
        blocks = re.findall(r'<script type="application/json" id="almaview-doc-\d+">(.*?)</script>', page, re.S)
        out = []
        for b in blocks:
            ids: dict[str, str] = {}
            ((_, doc),) = json.loads(html.unescape(b)).items()  # {docid: document}; the docid is random
            text = json.dumps(doc, sort_keys=True)
            out.append(re.sub(r'"p\d+"', lambda m: ids.setdefault(m.group(0), f'"m{len(ids)}"'), text))
        return out

    quick = docs(build_report(demo_delivery, tmp_path / "quick.html", progress=False).read_text())
    monkeypatch.setattr(_construction, "supported", lambda: False)
    plain = docs(build_report(demo_delivery, tmp_path / "plain.html", progress=False).read_text())
    assert len(quick) == len(plain) >= 6 and sum(map(len, plain)) > 5e6
    for k, (a, b) in enumerate(zip(plain, quick)):
        assert a == b, f"tab {k}"
