"""The notebooks are the tutorials: each runs top to bottom on the demo delivery, and is stored clean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs_and_with_a_kernelspec(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"].get("kernelspec", {}).get("name"), "JupyterLab stops at a kernel dialog without one"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, f"{path.name}: clear outputs"


@pytest.fixture
def archive_for(monkeypatch, tmp_path_factory):
    """Point a notebook that talks to the ALMA archive at the local stand-in serving the demo (CI has no internet)."""
    started = []

    def use(path: Path) -> None:
        if not path.name.startswith("00-from-the-archive"):
            return
        from archive.standin import start_for_demo

        started.append(start_for_demo())
        monkeypatch.setenv("ALMAVIEW_ARCHIVE_URL", started[0].url)
        monkeypatch.setenv("ALMAVIEW_EXAMPLE_PROJECT", "2023.1.01234.S")

    yield use
    for s in started:
        s.stop()


@pytest.mark.casa  # the kernel builds (or reuses) the demo delivery with CASA
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, archive_for):
    import nbformat
    from nbclient import NotebookClient

    archive_for(path)
    nb = nbformat.read(path, as_version=4)
    # The kernel inherits ALMAVIEW_CACHE_DIR (set by conftest), so it reuses the session's demo build.
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
