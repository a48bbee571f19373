"""The report's page: Bokeh layouts to one standalone HTML file (BokehJS inlined), serialised in one walk.

:func:`page_html` writes one layout as ``bokeh.embed.file_html`` would; :func:`tabbed_page_html` one tab per layout,
each its own Bokeh document drawn when its tab is first opened. The serialiser (:func:`_serializer`) writes what
Bokeh's writes without computing the default of every property first. :mod:`almaview.report` builds the panels.

Examples
--------
>>> from bokeh.models import Div
>>> "<title>p</title>" in page_html(Div(text="x"), "p")
True
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["page_html", "tabbed_page_html", "tab_doc", "TabDoc"]


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


@dataclass(frozen=True)
class TabDoc:
    """One tab of :func:`tabbed_page_html`, serialised: plain strings, so that a worker process can make it (the
    report builds its EB tabs in parallel) and the page be written from it. ``needs``: the optional BokehJS bundles
    ('widgets', 'tables', 'gl', 'mathjax') its models use."""

    label: str
    root_id: str
    element_id: str
    doc_id: str
    payload: str  # {doc_id: document JSON}, escaped for a <script type="application/json"> element
    needs: frozenset[str]


#: the optional BokehJS bundles and, for each, the smallest model that makes Bokeh include it
_BUNDLES = ("widgets", "tables", "gl", "mathjax")


def _needs(models: Any) -> frozenset[str]:
    """The optional BokehJS bundles ``models`` need, as ``bundle_for_objs_and_resources`` decides (its own tests);
    all of them if those are not there (a bigger page, never a broken one)."""
    try:
        from bokeh.embed import bundle as b

        tests = {"widgets": b._use_widgets, "tables": b._use_tables, "gl": b._use_gl, "mathjax": b._use_mathjax}
    except (ImportError, AttributeError):
        return frozenset(_BUNDLES)
    every = set(models)
    for m in every:  # a model from a Bokeh extension brings its own JS: not known from a few names
        if hasattr(m, "__implementation__") or not type(m).__view_module__.startswith("bokeh"):
            return frozenset(_BUNDLES) | {"extensions"}
    return frozenset(k for k, test in tests.items() if test(every))


def _witnesses(needs: frozenset[str]) -> set[Any]:
    """A few small models that make ``bundle_for_objs_and_resources`` choose the bundles ``needs`` names."""
    from bokeh.models import DataTable, Div, Plot, TeX

    made = {"widgets": Div, "tables": DataTable, "gl": lambda: Plot(output_backend="webgl"), "mathjax": TeX}
    return {made[k]() for k in _BUNDLES if k in needs}


def tab_doc(title: str, label: str, layout: Any, models: Any = None) -> TabDoc:
    """One tab's Bokeh document, serialised as :func:`page_html` does (one walk); ``models``: the layout's
    :func:`~almaview.plots._common.references` when the caller has them (saves a walk).

    Examples
    --------
    >>> from bokeh.models import Div
    >>> t = tab_doc("r", "EB 1", Div(text="one"))
    >>> t.label, '"one"' in t.payload, "widgets" in t.needs
    ('EB 1', True, True)
    """
    from bokeh.core.json_encoder import serialize_json
    from bokeh.document import Document
    from bokeh.util.serialization import make_globally_unique_css_safe_id, make_globally_unique_id

    from .plots._common import references

    doc_json = Document(title=title).to_json(deferred=False)
    doc_json["roots"] = _serializer().encode([layout])
    docid, elementid = make_globally_unique_id(), make_globally_unique_css_safe_id()
    payload = html.escape(serialize_json({docid: doc_json}), quote=False)
    needs = _needs(references(layout) if models is None else models)
    return TabDoc(label, layout.id, elementid, docid, payload, needs)


def tabbed_page_html(title: str, head: str, tabs: list[tuple[str, Any]], models: list | None = None) -> str:
    """A standalone HTML page (BokehJS inlined) with one tab per (label, Bokeh layout), each tab its own Bokeh
    document, drawn when the tab is first opened: the page shows its first tab as soon as that one is drawn, not
    after every EB's figures are built (BokehJS builds the views of hidden tabs too). ``head``: HTML above the tabs.

    Each tab's document is serialised as :func:`page_html` does (one walk); the tabs share no models. ``models``:
    each tab's models (:func:`~almaview.plots._common.references`) when the caller has them (they pick the BokehJS
    bundles; saves a walk). Each tab may also be given serialised already (a :class:`TabDoc`, see :func:`tab_doc`).

    Examples
    --------
    >>> from bokeh.models import Div
    >>> page = tabbed_page_html("r", "<h2>report</h2>", [("EB 1", Div(text="one")), ("QA", Div(text="two"))])
    >>> page.count('class="almaview-tabpanel"'), page.count('<script type="application/json" id="almaview-doc-')
    (2, 2)
    """
    from bokeh.core.json_encoder import serialize_json
    from bokeh.embed.bundle import bundle_for_objs_and_resources
    from bokeh.resources import INLINE

    from .plots._common import references

    docs = [
        tab if isinstance(tab, TabDoc) else tab_doc(title, tab[0], tab[1], None if models is None else models[k])
        for k, tab in enumerate(tabs)
    ]
    bars, panels, scripts, items, needs = [], [], [], [], frozenset()
    for k, t in enumerate(docs):
        needs |= t.needs
        items.append({"docid": t.doc_id, "roots": {t.root_id: t.element_id}, "root_ids": [t.root_id]})
        bars.append(f'<div class="bk-tab">{html.escape(t.label)}</div>')
        panels.append(
            f'<div class="almaview-tabpanel" style="display:none"><div id="{t.element_id}" data-root-id="{t.root_id}" '
            'style="display: contents;"></div></div>'
        )
        scripts.append(f'<script type="application/json" id="almaview-doc-{k}">{t.payload}</script>')
    chosen = _witnesses(needs)
    if "extensions" in needs:  # a Bokeh extension's model: Bokeh's own choice from the models given as layouts
        chosen |= {m for tab in tabs if not isinstance(tab, TabDoc) for m in references(tab[1])}
    js, css = bundle_for_objs_and_resources([_Known(chosen)], INLINE)
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
        f"<style>{_TABS_CSS}</style>\n{css}\n{js}\n</head>\n<body>\n{head}\n"
        f'<div class="almaview-tabbar">{"".join(bars)}</div>\n'
        + "\n".join(panels)
        + "\n"
        + "\n".join(scripts)
        + f'\n<script type="text/javascript">{_TABS_JS % serialize_json(items)}</script>\n</body>\n</html>\n'
    )
