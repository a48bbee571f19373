"""cont.dat round trip, tclean parameters from the demo's casa_commands.log, and a real (small) tclean run:
products open in the viewer; a stopped run leaves nothing half-written.

Expected values: the delivered text read by hand (regular expressions), astropy on the exported FITS.
"""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import numpy as np
import pytest

CONT = """Field: IRAS16293-2422

SpectralWindow: 0
230.456706~230.522000GHz LSRK
230.554000~230.573886GHz LSRK

SpectralWindow: 1
ALL
"""


def test_cont_dat_round_trip(tmp_path):
    from almaview.imaging import ContDatExists, read_cont_dat, write_cont_dat

    delivered = tmp_path / "delivered" / "cont.dat"
    delivered.parent.mkdir()
    delivered.write_text(CONT)
    before = hashlib.sha256(delivered.read_bytes()).hexdigest()
    r = read_cont_dat(delivered)
    edited = r.add("IRAS16293-2422", 0, 230.60e9, 230.62e9).remove("IRAS16293-2422", 0, 230.50e9, 230.51e9)
    with pytest.raises(ContDatExists):
        write_cont_dat(edited, delivered)
    out = write_cont_dat(edited, tmp_path / "mine" / "cont.dat")
    again = read_cont_dat(out)
    expected = [(230.456706e9, 230.50e9), (230.51e9, 230.522e9), (230.554e9, 230.573886e9), (230.60e9, 230.62e9)]
    np.testing.assert_allclose(again.get("IRAS16293-2422", 0), expected, rtol=0, atol=1.0)
    assert again.special == {"IRAS16293-2422": {"1": "ALL"}}
    assert hashlib.sha256(delivered.read_bytes()).hexdigest() == before
    sel = again.spw_selection("IRAS16293-2422")
    assert sel == "0:230.456706~230.5GHz;230.51~230.522GHz;230.554~230.573886GHz;230.6~230.62GHz,1"
    assert re.fullmatch(r"(\d+(:[0-9.]+~[0-9.]+GHz(;[0-9.]+~[0-9.]+GHz)*)?)(,\d+(:[^,]+)?)*", sel)


def _demo_member(demo: Path) -> Path:
    return next(
        p
        for p in sorted(demo.glob("science_goal.*/group.*/member.*"))
        if list(p.glob("log/*casa_commands.log")) and "IRAS" in " ".join(x.name for x in p.glob("product/*"))
    )


@pytest.fixture(scope="session")
def demo(demo_delivery: Path) -> Path:
    """The demo delivery, built once per test session (tests/conftest.py)."""
    return demo_delivery


def test_pipeline_parameters_from_demo_log(demo):
    from almaview.imaging import pipeline_parameters

    member = _demo_member(demo)
    log = next(member.glob("log/*casa_commands.log"))
    text = log.read_text()
    cont = pipeline_parameters(log, kind="cont", vis_dir=member / "calibrated")
    line = next(l for l in text.splitlines() if l.startswith("tclean(") and "specmode='mfs'" in l)
    assert f"cell={cont.params['cell']!r}" in line
    assert f"imsize={cont.params['imsize']!r}" in line
    assert all(Path(v).is_dir() for v in cont.params["vis"])
    cube = pipeline_parameters(log, kind="cube")
    assert cube.params["specmode"] == "cube" and "restfreq='%s'" % cube.params["restfreq"] in text
    call = cube.apply(robust=-0.5, threshold=0.005, niter=50).call()
    assert call.startswith("tclean(") and "robust=-0.5" in call and "threshold='5mJy'" in call


def test_heuristic_data_column_follows_the_ms(demo, alma_eb):
    """A split-out calibrated MS keeps its calibrated data in DATA: the heuristic call must image DATA."""
    from casacore import tables

    from almaview.imaging import heuristic_parameters

    split = next(demo.glob("science_goal.*/group.*/member.*/calibrated/*.ms.split.cal"))
    for ms, field in ((split, None), (alma_eb.ms, "IRAS16293-2422")):
        with tables.table(str(ms), ack=False) as t:
            expected = "corrected" if "CORRECTED_DATA" in t.colnames() else "data"
            if field is None:
                with tables.table(str(ms / "FIELD"), ack=False) as f:
                    field = str(f.getcol("NAME")[0])
        assert heuristic_parameters(str(ms), field=field, spw="0").params["datacolumn"] == expected
    assert expected == "corrected"  # the ALMA-like EB (not split) has CORRECTED_DATA


def test_tclean_run_opens_and_stop_leaves_nothing(alma_eb, tmp_path):
    import almaview as av
    from almaview.imaging import heuristic_parameters, run_tclean

    base = heuristic_parameters(alma_eb.ms, field="IRAS16293-2422", spw="1,2,3")
    assert base.params["cell"] and base.params["imsize"][0] % 2 == 0
    small = base.apply(imsize=[64, 64], cell="0.5arcsec", niter=20, imagename="small")
    run = run_tclean(small, tmp_path / "out", progress=False)
    assert run.state == "done"
    fits_path = run.products["image.pbcor.fits"]
    img = av.open_image(fits_path)
    from astropy.io import fits

    with fits.open(fits_path) as h:
        np.testing.assert_array_equal(img.isel(stokes=0, frequency=0).values, h[0].data[0, 0])
    assert not list((tmp_path / "out").glob(".*partial*"))

    big = base.apply(imsize=[512, 512], cell="0.1arcsec", niter=100000, threshold="0mJy", imagename="stopped").with_(
        specmode="cube", spw="1"
    )
    run2 = run_tclean(big, tmp_path / "out2", wait=False, progress=False)
    time.sleep(6)
    run2.stop()
    assert run2.state == "stopped"
    assert list((tmp_path / "out2").iterdir()) == []
