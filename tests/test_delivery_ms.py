"""Fields, intents and spws of a delivery come from its calibrated MS (read through almaview.open_ms)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import almaview as av
from deliveries import tree_digest
from deliveries.fixtures import cache  # noqa: F401

pytestmark = pytest.mark.casa


def _intents_by_field(ms: Path) -> dict[str, set[str]]:
    """Independent path: casacore's FIELD, STATE and main-table ids."""
    from casacore import tables

    with tables.table(str(ms / "FIELD"), ack=False) as t:
        names = list(t.getcol("NAME"))
    with tables.table(str(ms / "STATE"), ack=False) as t:
        modes = list(t.getcol("OBS_MODE"))
    t = tables.taql(f"select distinct FIELD_ID, STATE_ID from '{ms}'")
    out: dict[str, set[str]] = {}
    for f, s in zip(t.getcol("FIELD_ID"), t.getcol("STATE_ID")):
        for mode in modes[s].split(","):
            intent = mode.split("#")[0].replace("CALIBRATE_", "").replace("OBSERVE_", "")
            out.setdefault(names[f], set()).add(intent)
    t.close()
    return out


def test_fields_and_spws_from_the_calibrated_ms(alma_eb, tmp_path, cache):
    ms = Path(alma_eb.ms)
    eb = ms.name.split(".")[0]
    member = (
        tmp_path
        / "2022.1.00001.S"
        / "science_goal.uid___A001_X1_X1"
        / "group.uid___A001_X1_X2"
        / "member.uid___A001_X1_X3"
    )
    (member / "calibrated").mkdir(parents=True)
    os.symlink(ms, member / "calibrated" / ms.name)  # the real CASA-built MS, linked in, never copied
    before = tree_digest(ms)
    d = av.open_delivery(tmp_path / "2022.1.00001.S")
    (m,) = d.mous
    assert d.eb(eb).calibrated_ms == os.fspath(member / "calibrated" / ms.name)
    got = {f.name: set(f.intents) for f in m.fields}
    assert got == _intents_by_field(ms)
    assert all(f.source == "ms" for f in m.fields)
    from casacore import tables

    with tables.table(str(ms / "SPECTRAL_WINDOW"), ack=False) as t:
        nchan = list(t.getcol("NUM_CHAN"))
    assert [s["num_chan"] for s in m.spws] == nchan
    assert tree_digest(ms) == before
