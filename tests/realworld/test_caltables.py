"""Calibration tables solved by CASA on real data (gaincal on casadata's VLA 3C273, bandpass on its VLA
spectral-line 3DDAT): open_caltable and the gains/bandpass plots against python-casacore's CPARAM/FLAG.

The MSs are the corpus's imported UVFITS (test_ms.py), copied so that CASA's solvers never write into the
shared cache; the tables are built once per cache.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest

from mstables import check_antenna_labels

from .conftest import corpus_root
from .test_ms import measurement_set

pytestmark = pytest.mark.casa

#: (id, corpus file, CASA task and its parameters, plot builder, plot's x column)
CALTABLES = [
    ("gaincal(3C273XC1).G", "demo/3C273XC1.fits", "gaincal", {"solint": "int", "calmode": "ap", "minsnr": 0}, "gains"),
    ("bandpass(3DDAT).B", "demo/3DDAT.fits", "bandpass", {"solint": "inf", "combine": "scan", "minsnr": 0}, "bandpass"),
]


def _caltable(config, member: str, task: str, params: dict, name: str) -> Path:
    from almaview import casa

    if not casa.available():
        pytest.skip("CASA is not installed")
    dest = corpus_root(config) / "caltables" / name
    if dest.is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".solve-", dir=dest.parent))
    try:
        ms = work / "copy.ms"
        shutil.copytree(measurement_set(config, "casadata", member), ms)
        casa.run_isolated(f"casatasks:{task}", vis=str(ms), caltable=str(work / name), **params)
        try:
            os.replace(work / name, dest)
        except OSError:
            if not dest.is_dir():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


@pytest.mark.parametrize("name,member,task,params,plot", CALTABLES, ids=[f"casadata:{c[0]}" for c in CALTABLES])
def test_caltable_from_real_data_matches_casacore(request, name, member, task, params, plot):
    from casacore.tables import table

    import almaview as av

    path = _caltable(request.config, member, task, params, name)
    with table(str(path), ack=False) as t:
        cparam, flag = t.getcol("CPARAM"), t.getcol("FLAG")  # (row, chan, receptor)
        ant = t.getcol("ANTENNA1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ct = av.open_caltable(path)
        panel = getattr(av.plots, plot)(ct)
    ds = ct["spw_0"].ds
    gain, gflag = np.asarray(ds.gain.values), np.asarray(ds.flag.values)
    assert int((~gflag).sum()) == int((~flag).sum())
    np.testing.assert_allclose(gain[~gflag].sum(), cparam[~flag].sum(), rtol=1e-5)
    assert sorted(
        set(ds.antenna_id.values[np.any(~gflag, axis=tuple(i for i in range(gflag.ndim) if i != 1))])
    ) == sorted(set(ant[np.any(~flag, axis=(1, 2))]))
    # the plot shows every unflagged solution's amplitude
    shown = panel.data[~panel.data["flagged"]]
    assert len(shown) == int((~flag).sum())
    np.testing.assert_allclose(np.sort(shown["amp"].to_numpy()), np.sort(np.abs(cparam[~flag])), rtol=1e-5)
    assert panel.kind == plot
    # antenna_name (xradio's MSv4 name) labels each antenna's rows: ANTENNA1 + the ANTENNA subtable's NAME
    assert check_antenna_labels(path, ct) >= 2
