"""Layering: each layer imported alone in a fresh interpreter pulls in nothing from the layers above it.

io and delivery import no Jupyter and no Bokeh; analysis imports no Bokeh and no widgets; plots import no
ipywidgets and no readers (no python-casacore, no almaview.io); each layer's ``__init__`` says what it owns.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

JUPYTER = ("ipywidgets", "jupyter_bokeh", "IPython", "ipykernel", "jupyterlab", "notebook")
BOKEH = ("bokeh",)
READERS = ("casacore", "casatools", "almaview.io", "astropy.io.fits")

# module -> prefixes it must not load (its own submodules are imported too, everything public)
RULES = {
    "almaview.io": JUPYTER + BOKEH + ("almaview.analysis", "almaview.plots", "almaview.widgets"),
    "almaview.delivery": JUPYTER + BOKEH + ("almaview.analysis", "almaview.plots", "almaview.widgets"),
    "almaview.analysis": JUPYTER + BOKEH + ("almaview.plots", "almaview.widgets"),
    "almaview.plots": JUPYTER + READERS + ("almaview.widgets",),
    "almaview.archive": JUPYTER + BOKEH + ("almaview.analysis", "almaview.plots", "almaview.widgets"),
}
SUBMODULES = {
    "almaview.io": ["ms", "caltable", "image", "imagestats"],
    "almaview.delivery": [],
    "almaview.analysis": [
        "visibilities",
        "flagging",
        "image",
        "statistics",
        "overview",
        "trees",
        "caltables",
        "frames",
    ],
    "almaview.plots": [
        "caltables",
        "visibilities",
        "flagging",
        "image",
        "colour",
        "sky",
        "spectrum",
        "overview",
        "continuum",
        "weblog_qa",
        "qa_evidence",
        "grid",
    ],
    "almaview.archive": ["client", "query", "listing", "download", "cli"],
}

PROBE = """
import importlib, json, pkgutil, sys
layer, subs = sys.argv[1], json.loads(sys.argv[2])
importlib.import_module(layer)
for s in subs:
    try:
        importlib.import_module(f"{layer}.{s}")
    except ModuleNotFoundError as e:
        if e.name != f"{layer}.{s}":
            raise
print(json.dumps(sorted(sys.modules)))
"""


def _loaded(layer: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, layer, json.dumps(SUBMODULES[layer])],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("layer", sorted(RULES))
def test_layer_imports_nothing_above_it(layer):
    loaded = _loaded(layer)
    assert layer in loaded
    bad = sorted(m for m in loaded for p in RULES[layer] if m == p or m.startswith(p + "."))
    assert not bad, f"importing {layer} loaded {bad}"


@pytest.mark.parametrize("layer", sorted(RULES))
def test_layer_says_what_it_owns(layer):
    import importlib

    doc = importlib.import_module(layer).__doc__ or ""
    assert len(doc.split()) >= 10, f"{layer}'s __init__ docstring should say what the layer owns"


def test_the_probe_sees_a_forbidden_import():
    """The check can fail: widgets load ipywidgets, which a plots-style rule forbids."""
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", PROBE, "almaview.widgets", json.dumps(["app"])],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    assert any(m == "ipywidgets" or m.startswith("ipywidgets.") for m in loaded)


def test_plots_modules_hold_no_readers():
    """No plot module opens files or tables itself: no open_ms/open_caltable/open_image, casacore or fits."""
    import pathlib

    import almaview.plots

    root = pathlib.Path(almaview.plots.__file__).parent
    for path in sorted(root.glob("*.py")):
        text = path.read_text()
        for word in ("open_ms(", "open_caltable(", "open_image(", "casacore", "fits.open(", "open(", ".compute("):
            code = [
                ln
                for ln in text.splitlines()
                if word in ln and not ln.lstrip().startswith((">>>", "#")) and "doctest" not in ln
            ]
            assert not code, f"{path.name} reads data ({word!r}): {code[:2]}"
