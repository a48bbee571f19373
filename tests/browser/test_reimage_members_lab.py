"""The re-imaging panel's members selector in JupyterLab (headless Chromium), used as a user would (issue 16 §3:
"the re-imaging panel can image 12-m + 7-m jointly").

The panel opens on the demo group's 12-m member; the user selects the 12-m and the 7-m member OUSs in the
"members" list. What the page then shows must change to the joint imaging: the printed tclean call's ``vis``
lists the 7-m member's calibrated MS beside the 12-m ones, its cell/imsize follow the joint uv coverage, and the
predicted beam is the joint one. Expected values are computed here, in the test process: the MSs from the
delivery's folders and python-casacore's ANTENNA and UVW columns (7-m dishes, shorter baselines), the beams and
the cell from :func:`almaview.imaging.predict_beam` / ``default_cell_imsize`` on the MSs the call lists (the
public path that reads the uv coverage itself, not the panel's cached plan). The console stays clean.
"""

from __future__ import annotations

import ast
import re
import time
from pathlib import Path

import numpy as np
import pytest

from . import harness

pytestmark = pytest.mark.browser

NOTEBOOK = "reimage-members.ipynb"


def _cells(output: str) -> list[str]:
    return [
        "import almaview as av\n\nd = av.open_delivery(av.demo.build())",
        f"panel = av.widgets.reimage(d, kind='cont', output={output!r})\npanel",
    ]


CALL = ".almaview-control-tclean-call textarea"
BEAM = re.compile(r'predicted beam\s*([\d.]+)"\s*×\s*([\d.]+)"')


def _tclean_args(call: str) -> dict:
    """The keyword arguments of a printed ``tclean(...)`` call, parsed as Python (ast), not by almaview."""
    node = ast.parse(call.strip(), mode="eval").body
    assert isinstance(node, ast.Call) and getattr(node.func, "id", "") == "tclean", call[:80]
    return {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords}


def _shown(page) -> tuple[dict, tuple[float, float], str]:
    text = page.locator(".almaview-reimage").first.inner_text()
    m = BEAM.search(text)
    assert m, text[:400]
    return _tclean_args(page.locator(CALL).input_value()), (float(m.group(1)), float(m.group(2))), text


def _expected_beam(args: dict) -> tuple[float, float]:
    import almaview as av

    spw = args["spw"][0] if isinstance(args["spw"], list) else args["spw"]
    b = av.imaging.predict_beam(
        args["vis"],
        field=args["field"],
        spw=spw,
        robust=args["robust"],
        cell=args["cell"],
        imsize=args["imsize"],
    )
    return round(b.major, 2), round(b.minor, 2)


def _antennas(ms: str) -> set[str]:
    from casacore import tables

    with tables.table(f"{ms}/ANTENNA", ack=False) as t:
        return {str(n)[:2] for n in t.getcol("NAME")}


def _shortest_baseline_m(ms: str) -> float:
    from casacore import tables

    with tables.table(ms, ack=False) as t:
        uvw = t.query("ANTENNA1 != ANTENNA2", columns="UVW").getcol("UVW")
    return float(np.hypot(uvw[:, 0], uvw[:, 1]).min())


def test_members_selector_switches_to_joint_12m_7m_imaging(
    lab_server, browser, notebooks_copy, demo_delivery, tmp_path
):
    import almaview as av
    from almaview.demo.project import ACA, ALMA
    from almaview.imaging.beam import default_cell_imsize, uv_coverage

    page = browser.page
    page.set_viewport_size({"width": 1400, "height": 1000})
    t0 = time.perf_counter()
    harness.open_alone(
        page, lab_server, harness.write_notebook(notebooks_copy, NOTEBOOK, _cells(str(tmp_path / "reimaged")))
    )
    state = harness.run_all_in_lab(page)
    assert not [c for c in state["cells"] if c["errors"]], state["cells"]
    page.locator(CALL).wait_for(timeout=120_000)
    opened = time.perf_counter() - t0

    # The delivery's member folders, independently of almaview: the calibrated MSs of the 12-m and 7-m members.
    d = av.open_delivery(demo_delivery)
    folders = {plan.uid: demo_delivery / next(m for m in d.mous if m.uid == plan.uid).path for plan in (ALMA, ACA)}
    ms_12m = sorted(str(p) for p in (folders[ALMA.uid] / "calibrated").glob("*.ms"))
    ms_7m = sorted(str(p) for p in (folders[ACA.uid] / "calibrated").glob("*.ms"))
    assert ms_12m and ms_7m
    assert all(_antennas(ms) <= {"DA", "DV", "PM"} for ms in ms_12m), [_antennas(ms) for ms in ms_12m]
    assert all(_antennas(ms) == {"CM"} for ms in ms_7m), [_antennas(ms) for ms in ms_7m]

    # 12-m alone, as the panel opens
    before, beam_before, text_before = _shown(page)
    assert sorted(Path(v).name for v in before["vis"]) == sorted(Path(v).name for v in ms_12m), before["vis"]
    assert "joint" not in text_before
    assert beam_before == _expected_beam(before), (beam_before, before)

    # The user picks both members in the list (12m + 7m).
    select = page.locator(".almaview-control-members select")
    assert select.count() == 1
    labels = select.locator("option").all_inner_texts()
    assert sorted(label.split()[0] for label in labels) == ["12m", "7m"], labels  # "12m · uid..." (nbsp)
    t1 = time.perf_counter()
    select.select_option([o.get_attribute("value") for o in select.locator("option").all()])
    page.wait_for_function(
        "([sel, name]) => { const t = document.querySelector(sel); return t && t.value.includes(name); }",
        arg=[CALL, Path(ms_7m[0]).name],
        timeout=240_000,
        polling=250,
    )
    page.get_by_text("joint", exact=False).first.wait_for(timeout=60_000)
    switched = time.perf_counter() - t1
    after, beam_after, text_after = _shown(page)

    # the call images every MS of both members ...
    assert sorted(Path(v).name for v in after["vis"]) == sorted(Path(v).name for v in ms_12m + ms_7m), after["vis"]
    assert "12m + 7m" in text_after
    # ... with the cell/imsize of the joint coverage and the joint beam, both as the public path gives them
    spw = after["spw"][0] if isinstance(after["spw"], list) else after["spw"]
    cov = uv_coverage(after["vis"], field=after["field"], spw=spw)
    cell_arcsec, n = default_cell_imsize(cov)
    assert float(str(after["cell"][0]).removesuffix("arcsec")) == pytest.approx(cell_arcsec, abs=0.005), after
    assert after["imsize"][0] == n, (after["imsize"], n)
    assert beam_after == _expected_beam(after), (beam_after, after)
    # physics, from casacore's UVW: the 7-m baselines are shorter, so the joint beam is wider than the 12-m one
    assert min(_shortest_baseline_m(ms) for ms in ms_7m) < min(_shortest_baseline_m(ms) for ms in ms_12m)
    assert beam_after[0] > beam_before[0] and (after["cell"], after["imsize"]) != (before["cell"], before["imsize"])

    page.locator(".almaview-reimage").first.scroll_into_view_if_needed()
    browser.screenshot("reimage-members-lab")
    print(
        f"JupyterLab: open + run all {opened:.1f} s; 12m+7m selected -> joint call shown {switched:.1f} s; "
        f"beam {beam_before} -> {beam_after} arcsec; cell {before['cell']} -> {after['cell']}, "
        f"imsize {before['imsize']} -> {after['imsize']}"
    )
    browser.log.assert_clean()
