"""What a saved notebook holds after a run (nbclient, as a user's "Run All" + save): the quickstart and the
visibilities notebook (03, the one with the most plot data), each under 3 MB as JupyterLab saves it (no widget state), BokehJS inlined once, no CASA log line (the "SEVERE ... leap second" warning) in any output, and no cell whose only output is a
Bokeh model's repr (``figure(id=...)``, ``Row(id=...)``) where a plot was meant."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
QUICKSTART = NOTEBOOKS / "01-quickstart.ipynb"
BUDGET_BYTES = 3_000_000
#: with the widget state stored too (nbclient's default; JupyterLab's is not to: jupyterlab-manager "saveState" false)
BUDGET_WITH_WIDGET_STATE_BYTES = 5_000_000
REPR = re.compile(r"^(figure|Figure|Row|Column|GridPlot|Tabs|Div)\(id=", re.MULTILINE)
CASA_LOG = re.compile(r"SEVERE|leap second|casatools::|INFO\s+\w+::", re.IGNORECASE)
# A string only the main BokehJS bundle (bokeh.min.js) holds: one per inlined copy.
BOKEHJS_MARK = "invalid color array"


def _texts(output: dict) -> list[str]:
    if output.get("output_type") == "stream":
        text = output.get("text", "")
        return ["".join(text) if isinstance(text, list) else text]
    data = output.get("data", {})
    return ["".join(v) if isinstance(v, list) else str(v) for k, v in data.items() if k.startswith("text/")]


@pytest.mark.casa  # the kernel builds (or reuses) the demo delivery with CASA
@pytest.mark.parametrize("name", ["01-quickstart.ipynb", "03-visibilities.ipynb"])
def test_saved_notebook_is_small_clean_and_shows_plots(demo_delivery, tmp_path, name):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    with_state = tmp_path / "with-widget-state.ipynb"
    nbformat.write(nb, with_state)
    # JupyterLab saves no widget state unless the user turns on "Save Jupyter widget state in notebooks"
    nb.metadata.pop("widgets", None)
    saved = tmp_path / name
    nbformat.write(nb, saved)
    size, size_with_state = saved.stat().st_size, with_state.stat().st_size
    raw = saved.read_text()
    copies = raw.count(BOKEHJS_MARK)
    print(
        f"saved {name}: {size / 1e6:.2f} MB ({size_with_state / 1e6:.2f} MB with the widget state), "
        f"BokehJS inlined {copies} time(s)"
    )

    problems = []
    for i, cell in enumerate(json.loads(raw)["cells"]):
        for out in cell.get("outputs", []):
            for text in _texts(out):
                if CASA_LOG.search(text):
                    problems.append(f"cell {i}: CASA log line in the output: {CASA_LOG.search(text).group(0)!r}")
            data = out.get("data", {})
            plain = "".join(data.get("text/plain", []))
            if set(data) <= {"text/plain"} and REPR.search(plain):
                problems.append(f"cell {i}: a model's repr instead of a plot: {plain[:60]!r}")
    assert not problems, "\n".join(problems)
    assert copies == 1, f"BokehJS is inlined {copies} times (once: the page renders offline)"
    assert size < BUDGET_BYTES, f"the saved {name} is {size / 1e6:.2f} MB (budget 3 MB)"
    assert size_with_state < BUDGET_WITH_WIDGET_STATE_BYTES, f"with its widget state: {size_with_state / 1e6:.1f} MB"
