"""The standalone report: one self-contained interactive HTML file per delivery (Bokeh standalone, BokehJS
inlined, no kernel, works offline) with the overview, calibration and QA panels of every EB.

Size is bounded: panels with more than ``max_points`` points are thinned (uv coverage keeps every
``k``-th integration; bandpass keeps the first antennas) and the page says so. The QA tab holds each weblog
stage's page (sanitised, images inlined up to a budget): a click on a stage shows its page in the report.

Examples
--------
>>> from almaview.report import build_report
>>> build_report("2023.1.01234.S", "report.html")   # doctest: +SKIP
PosixPath('report.html')
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any, Callable

__all__ = ["build_report", "report_panels", "page_html", "tabbed_page_html", "stage_pages"]

MAX_POINTS = 40_000


def _note(text: str) -> Any:
    from bokeh.models import Div

    return Div(text=f"<p style='color:#777;font-size:12px'>{html.escape(text)}</p>")


class _Known:
    """The page's models, already walked, as ``bundle_for_objs_and_resources`` takes them (it asks each object it
    is given for ``references()``): which BokehJS parts (widgets, tables, GL, MathJax) the page needs."""

    def __init__(self, models: set[Any]) -> None:
        self.models = models

    def references(self) -> set[Any]:
        return self.models


_SERIALIZED: dict[type, tuple[tuple[str, Any], ...]] = {}


def _spec_value(prop: Any) -> Callable[[Any, str], Any]:
    """``DataSpecPropertyDescriptor.get_value`` for a plain :class:`~bokeh.core.property.dataspec.DataSpec` (Bokeh's
    ``to_serializable``), with the value type that tells a value from a field name built once per property: Bokeh
    builds it again (``value_type.replace(String, Nothing())``, a new tree of properties) for every value."""
    from bokeh.core.property.dataspec import DataSpec
    from bokeh.core.property.nothing import Nothing
    from bokeh.core.property.primitive import String
    from bokeh.core.property.vectorization import Field, Value

    if type(prop).to_serializable is not DataSpec.to_serializable:
        return lambda model, key: prop.to_serializable(model, key, getattr(model, key))
    values = prop.value_type.replace(String, Nothing())

    def get(model: Any, key: str) -> Any:
        val = getattr(model, key)
        try:
            values.validate(val, False)
            return Value(val)
        except ValueError:
            pass
        return Field(val) if isinstance(val, str) else val

    return get


def _getters(cls: type) -> tuple[tuple[str, Any], ...]:
    from bokeh.core.property.descriptors import DataSpecPropertyDescriptor

    out = []
    for k in cls.properties(_with_props=True):
        d = cls.lookup(k)
        if not d.serialized:
            continue
        if type(d) is DataSpecPropertyDescriptor and type(d).get_value is DataSpecPropertyDescriptor.get_value:
            out.append((k, _spec_value(d.property)))
        else:
            out.append((k, lambda model, key, d=d: d.get_value(model)))
    return tuple(out)


def _attributes(model: Any) -> dict[str, Any]:
    """What ``model.properties_with_values(include_defaults=False)`` returns (the properties Bokeh serialises), in
    the same order, without computing the default of every other property first (Bokeh reads every property's
    value, default or not, before it drops the defaults: two thirds of the serialiser's time)."""
    cls = type(model)
    props = _SERIALIZED.get(cls)
    if props is None:
        props = _SERIALIZED[cls] = _getters(cls)
    made = model._unstable_default_values
    selected = model._property_values.keys() | made.keys()
    themed = model.themed_values() or {}
    selected |= themed.keys()
    out = {}
    for key, get in props:
        if key not in selected:
            continue
        value = get(model, key)
        if key not in themed and key in made and isinstance(value, _CONTAINER[0]):
            continue
        out[key] = value
    return out


#: bokeh.core.property.wrappers.PropertyValueContainer (imported at the first serialisation, not per model)
_CONTAINER: list[type] = []


def _serializer() -> Any:
    """A ``bokeh.core.serialization.Serializer`` that writes what Bokeh's writes, models about twice as fast
    (:func:`_attributes`)."""
    from bokeh.core.serialization import Serializer
    from bokeh.model import Model

    if not _CONTAINER:
        from bokeh.core.property.wrappers import PropertyValueContainer

        _CONTAINER.append(PropertyValueContainer)

    class _Fast(Serializer):
        def _encode(self, obj: Any) -> Any:
            if not isinstance(obj, Model):
                return super()._encode(obj)
            self.add_ref(obj, obj.ref)
            rep: dict[str, Any] = {"type": "object", "name": obj.__qualified_model__, "id": obj.id}
            attributes = {k: self.encode(v) for k, v in _attributes(obj).items()}
            if attributes:
                rep["attributes"] = attributes
            return rep

    return _Fast(deferred=False)


def page_html(layout: Any, title: str, models: set[Any] | None = None) -> str:
    """A standalone HTML page (BokehJS inlined) of one Bokeh layout: what ``bokeh.embed.file_html`` writes, in one
    walk over the models instead of six.

    ``file_html`` adds the layout to a document (a walk), validates it (a walk and checks), looks for Python
    callbacks (a walk), picks the BokehJS bundles (a walk) and serialises (a walk); at about 1 ms per model each,
    on the demo's 7,000-model report that was a third of ``almaview report``. Here the serialiser's walk is the
    only one; ``models`` (:func:`~almaview.plots._common.references` of the layout, already taken by the caller) picks the bundles. The page is not
    validated (Bokeh's validation only logs warnings; the builders are checked by their tests).

    Examples
    --------
    >>> from bokeh.models import Div
    >>> page = page_html(Div(text="hello"), "a page")
    >>> "<title>a page</title>" in page and '"hello"' in page
    True
    """
    from bokeh.document import Document
    from bokeh.embed.bundle import bundle_for_objs_and_resources
    from bokeh.embed.elements import html_page_for_render_items

    from .plots._common import references
    from bokeh.embed.util import RenderItem
    from bokeh.resources import INLINE
    from bokeh.util.serialization import make_globally_unique_css_safe_id, make_globally_unique_id

    doc_json = Document(title=title).to_json(deferred=False)  # version, title, config; no roots yet
    doc_json["roots"] = _serializer().encode([layout])
    docid = make_globally_unique_id()
    item = RenderItem(docid, roots={layout: make_globally_unique_css_safe_id()})
    bundle = bundle_for_objs_and_resources([_Known(set(references(layout) if models is None else models))], INLINE)
    return html_page_for_render_items(bundle, {docid: doc_json}, [item], title=title)


#: a stage page's images inlined in the report up to this many bytes (a real weblog's plots would make the report
#: hundreds of MB; the rest keep their names)
STAGE_IMAGE_BUDGET = 400_000


def stage_pages(weblog: Any, *, image_budget: int = STAGE_IMAGE_BUDGET) -> dict[int, str]:
    """Each weblog stage's page as a self-contained, sanitised document (stage number -> HTML), for the report's QA
    tab: a click on a stage shows its page in the report itself (no link into a cache directory that the reader
    of a sent report does not have). A page that cannot be read is left out (its stage says so when clicked).

    Examples
    --------
    >>> stage_pages(None)
    {}
    >>> m = av.open_delivery("2023.1.01234.S").mous[0]   # doctest: +SKIP
    >>> "Content-Security-Policy" in stage_pages(m.weblog)[17]   # doctest: +SKIP
    True
    """
    from .errors import AlmaviewError

    out: dict[int, str] = {}
    for s in getattr(weblog, "stages", None) or []:
        try:
            out[s.number] = weblog.stage_html(s.number, image_budget=image_budget)
        except (AlmaviewError, OSError, KeyError, ValueError):
            continue
    return out


def _safe(name: str, make: Callable[[], Any]) -> Any:
    """A panel, or a note saying why it could not be made (one bad table must not sink the report)."""
    try:
        return make()
    except Exception as err:  # reported in the page
        return _note(f"{name}: not available ({type(err).__name__}: {err})")


def report_panels(eb: Any, *, max_points: int = MAX_POINTS) -> list[tuple[str, Any]]:
    """The (title, Bokeh layout) sections of one EB: overview, Tsys, bandpass, gains.

    ``eb`` is an :class:`~almaview.widgets.sources.EBSource`.

    Examples
    --------
    >>> from almaview.widgets.sources import ebs_of
    >>> [t for t, _ in report_panels(ebs_of(d)[0])]   # doctest: +SKIP
    ['overview', 'Tsys', 'bandpass', 'gains']
    """
    from .io.caltable import open_caltable
    from .io.ms import open_ms
    from .plots import caltables as pc
    from .plots import overview as ov
    from .plots._common import column, row
    from .widgets.sources import BANDPASS_KINDS, GAIN_KINDS, TSYS_KINDS

    out: list[tuple[str, Any]] = []
    if eb.ms is not None:
        vis = open_ms(eb.ms)

        def overview() -> Any:
            spws = ov.ms_spws(vis)
            uv = ov.uv_coverage(vis, spws[:1])
            notes = []
            if len(uv.data) > max_points:
                ds = vis[f"spw_{spws[0]}"].ds
                step = -(-len(uv.data) // max_points)
                keep = set(ds.time.values[::step].tolist())
                thin = uv.data[uv.data["time"].isin(keep)]
                notes.append(
                    _note(
                        f"uv coverage: every {step}th integration of spw {spws[0]} "
                        f"({len(thin)} of {len(uv.data)} points)"
                    )
                )
                from .plots._common import columns_of, colours_for

                cmap = colours_for(thin["spw"])
                uv.sources["points"].data = columns_of(
                    thin.assign(color=[cmap[s] for s in thin["spw"]]),
                    ["u_klambda", "v_klambda", "spw", "field", "baseline", "color"],
                )
                from .plots._common import empty_raster

                uv.sources["image"].data = empty_raster()
            return column(
                [
                    ov.eb_summary(vis).layout,
                    row([ov.antenna_positions(vis).layout, uv.layout]),
                    ov.elevation(vis).layout,
                    *notes,
                ]
            )

        out.append(("overview", _safe("overview", overview)))
    for title, kinds, builder in (
        ("Tsys", TSYS_KINDS, pc.tsys),
        ("bandpass", BANDPASS_KINDS, pc.bandpass),
        ("gains", GAIN_KINDS, pc.gains),
    ):
        names = eb.gain_tables() if title == "gains" else eb.tables(kinds)  # gains: the phase solutions first
        if not names:
            continue
        if title == "gains":  # the pipeline's final phase and amplitude tables (timegaincal), else all
            final = [n for n in names if "timegaincal" in n] or names
            names = final

        def make(names: list[str] = names, builder: Any = builder, title: str = title) -> Any:
            parts = []
            for n in names:
                ct = open_caltable(eb.path(n))
                ants = None
                if title == "bandpass":
                    per_ant = sum(ct[f"spw_{s}"].ds.gain.size for s in pc.caltable_spws(ct)) // max(
                        1, ct[f"spw_{pc.caltable_spws(ct)[0]}"].ds.sizes["antenna_name"]
                    )
                    if per_ant and per_ant * ct[f"spw_{pc.caltable_spws(ct)[0]}"].ds.sizes["antenna_name"] > max_points:
                        first = ct[f"spw_{pc.caltable_spws(ct)[0]}"].ds.antenna_name.values.astype(str)
                        ants = list(first[: max(1, max_points // per_ant)])
                # gains: one panel per spw, antennas in colour (the explorer has the weblog's per-antenna pages):
                # per antenna, a 27-antenna VLA table made 54 figures and 5,600 of the page's Bokeh models
                p = builder(ct, antennas=ants, **({"iterate": "spw"} if title == "gains" else {}))
                parts.append(_note(n + (f" — antennas {', '.join(ants)} only (size bound)" if ants else "")))
                parts.append(p.layout)
            return column(parts)

        out.append((title, _safe(title, make)))
    return out


def build_report(
    delivery: Any, output: str | os.PathLike = "report.html", *, progress: bool = True, max_points: int = MAX_POINTS
) -> Path:
    """Write the standalone HTML report of a delivery (or path) and return its path.

    One tab per EB (overview, Tsys, bandpass, gains) and one QA tab per member OUS; BokehJS inlined.

    Examples
    --------
    >>> build_report(av.open_delivery("2023.1.01234.S"), "report.html")   # doctest: +SKIP
    """
    with _local_dask():
        return _write_report(delivery, output, progress=progress, max_points=max_points)


def _local_dask() -> Any:
    """Dask's threaded scheduler, named, when no dask.distributed client can exist in this process (distributed not
    imported): what dask picks anyway for the report's arrays, without importing distributed to look for a client
    (~0.3 s, a twentieth of ``almaview report``). With distributed imported (a notebook with a Client), or a
    scheduler set in dask's config, dask's own choice."""
    import sys
    from contextlib import nullcontext

    import dask

    if "distributed" in sys.modules or dask.config.get("scheduler", None) is not None:  # (a user's choice stands)
        return nullcontext()
    import dask.threaded

    return dask.config.set(scheduler=dask.threaded.get)  # the function: a name makes dask look for distributed


def _write_report(delivery: Any, output: str | os.PathLike, *, progress: bool, max_points: int) -> Path:
    from bokeh.models import TabPanel, Tabs

    from .delivery import open_delivery
    from .delivery.model import Delivery
    from .plots._construction import quick_models
    from .plots.weblog_qa import qa_stages
    from .widgets.sources import ebs_of

    d = delivery if isinstance(delivery, Delivery) else open_delivery(delivery)
    ebs = ebs_of(d)
    steps = len(ebs) + len(d.mous) + 1  # + the page itself (serialised and written: a few seconds on the demo)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc="almaview report", unit="part")
    tabs: list[tuple[str, Any]] = []
    with quick_models():  # the panels' models built without the defaults Bokeh would build and drop
        try:
            for eb in ebs:
                if bar is not None:
                    bar.set_postfix_str(eb.uid)
                sections = report_panels(eb, max_points=max_points)
                inner = (
                    Tabs(tabs=[TabPanel(child=lay, title=t) for t, lay in sections])
                    if sections
                    else _note("nothing to show for this EB")
                )
                tabs.append((f"EB {eb.uid}", inner))
                if bar is not None:
                    bar.update()
            for m in d.mous:
                if bar is not None:
                    bar.set_postfix_str(f"QA {m.uid}")
                if m.qa.aqua is not None or m.qa.weblog_archives:
                    qa = _safe("QA", lambda m=m: qa_stages(m.qa.aqua, m.weblog, pages=stage_pages(m.weblog)).layout)
                    tabs.append((f"QA {m.uid}", qa))
                if bar is not None:
                    bar.update()
        except BaseException:
            if bar is not None:
                bar.close()
            raise
    try:
        if bar is not None:
            bar.set_postfix_str("writing the page")
        out = _write_page(d, output, tabs)
        if bar is not None:
            bar.update()
        return out
    finally:
        if bar is not None:
            bar.close()


def _write_page(d: Any, output: str | os.PathLike, tabs: list[tuple[str, Any]]) -> Path:
    from .plots._common import column, compact_models, references, stretch_width
    from .plots._construction import quick_models

    title = f"almaview report — {d.project_code or os.path.basename(d.root)}"
    from .delivery.summary import _array_words

    members = "".join(
        f"<li>member OUS {html.escape(m.uid)}: {html.escape(_array_words(m.array))}"
        f" ({len(m.ebs)} EB{'s' if len(m.ebs) != 1 else ''})</li>"
        for m in d.mous
    )
    from .delivery.status import group_product_lines

    members += "".join(f"<li>{html.escape(line)}</li>" for line in group_product_lines(d))
    head = (
        f"<h2>{html.escape(title)}</h2><p>{html.escape(d.title or '')}"
        f"{' — PI ' + html.escape(d.pi_name) if d.pi_name else ''}</p><ul>{members}</ul>"
    )
    if not tabs:
        tabs = [("delivery", column([_note("no EBs in this delivery")]))]
    with quick_models():
        walked = []
        for _, lay in tabs:
            models = references(lay)  # one walk for the three
            compact_models(lay, models)  # shared axis models and filters, glyph copies made in the page: fewer models
            stretch_width(lay, models)  # the page's width, not fixed widths
            walked.append(models)  # (the models compact_models dropped were copies: the same BokehJS bundles)
        page = tabbed_page_html(title, head, tabs, walked)
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return out


_TABS_CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:8px 12px}
.almaview-tabbar{display:flex;flex-wrap:wrap;border-bottom:1px solid #ccc;margin:8px 0}
.almaview-tabbar .bk-tab{padding:4px 10px;cursor:pointer;font-size:13px;color:#444;border:1px solid transparent;
  border-bottom:none;margin-bottom:-1px}
.almaview-tabbar .bk-tab.bk-active{border-color:#ccc;border-top:3px solid #1f77b4;background:#fff;color:#000}
"""

_TABS_JS = """
(function() {
  const items = %s;
  const tabs = Array.from(document.querySelectorAll('.almaview-tabbar .bk-tab'));
  const panels = Array.from(document.querySelectorAll('.almaview-tabpanel'));
  const asked = new Set();
  function draw(k) {
    const doc = document.getElementById('almaview-doc-' + k).textContent;
    Promise.resolve(window.Bokeh.embed.embed_items(doc, [items[k]])).then(() => { panels[k].dataset.drawn = '1'; });
  }
  function show(k) {
    tabs.forEach((t, i) => t.classList.toggle('bk-active', i === k));
    panels.forEach((p, i) => { p.style.display = i === k ? '' : 'none'; });
    if (asked.has(k)) return;
    asked.add(k);
    if (window.Bokeh !== undefined) { draw(k); return; }
    const timer = setInterval(() => { if (window.Bokeh !== undefined) { clearInterval(timer); draw(k); } }, 10);
  }
  tabs.forEach((t, i) => t.addEventListener('click', () => show(i)));
  if (document.readyState !== 'loading') show(0); else document.addEventListener('DOMContentLoaded', () => show(0));
})();
"""


def tabbed_page_html(title: str, head: str, tabs: list[tuple[str, Any]], models: list | None = None) -> str:
    """A standalone HTML page (BokehJS inlined) with one tab per (label, Bokeh layout), each tab its own Bokeh
    document, drawn when the tab is first opened: the page shows its first tab as soon as that one is drawn, not
    after every EB's figures are built (BokehJS builds the views of hidden tabs too). ``head``: HTML above the tabs.

    Each tab's document is serialised as :func:`page_html` does (one walk); the tabs share no models. ``models``:
    each tab's models (:func:`~almaview.plots._common.references`) when the caller has them (they pick the BokehJS
    bundles; saves a walk).

    Examples
    --------
    >>> from bokeh.models import Div
    >>> page = tabbed_page_html("r", "<h2>report</h2>", [("EB 1", Div(text="one")), ("QA", Div(text="two"))])
    >>> page.count('class="almaview-tabpanel"'), page.count('<script type="application/json" id="almaview-doc-')
    (2, 2)
    """
    from bokeh.core.json_encoder import serialize_json
    from bokeh.document import Document
    from bokeh.embed.bundle import bundle_for_objs_and_resources
    from bokeh.embed.util import RenderItem
    from bokeh.resources import INLINE
    from bokeh.util.serialization import make_globally_unique_css_safe_id, make_globally_unique_id

    from .plots._common import references

    bars, panels, docs, items, every = [], [], [], [], set()
    for k, (label, layout) in enumerate(tabs):
        every |= set(references(layout) if models is None else models[k])
        doc_json = Document(title=title).to_json(deferred=False)
        doc_json["roots"] = _serializer().encode([layout])
        docid, elementid = make_globally_unique_id(), make_globally_unique_css_safe_id()
        items.append(RenderItem(docid, roots={layout: elementid}).to_json())
        bars.append(f'<div class="bk-tab">{html.escape(label)}</div>')
        panels.append(
            f'<div class="almaview-tabpanel" style="display:none"><div id="{elementid}" data-root-id="{layout.id}" '
            'style="display: contents;"></div></div>'
        )
        payload = html.escape(serialize_json({docid: doc_json}), quote=False)
        docs.append(f'<script type="application/json" id="almaview-doc-{k}">{payload}</script>')
    js, css = bundle_for_objs_and_resources([_Known(every)], INLINE)
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
        f"<style>{_TABS_CSS}</style>\n{css}\n{js}\n</head>\n<body>\n{head}\n"
        f'<div class="almaview-tabbar">{"".join(bars)}</div>\n'
        + "\n".join(panels)
        + "\n"
        + "\n".join(docs)
        + f'\n<script type="text/javascript">{_TABS_JS % serialize_json(items)}</script>\n</body>\n</html>\n'
    )
