"""open_ms's read tasks pickle and run on dask.distributed worker processes."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import almaview as av

distributed = pytest.importorskip("distributed")


def test_reads_pickle_without_an_open_table(alma_eb):
    from almaview.io.ms import build_tree

    arr = build_tree(alma_eb.ms)["spw_0"].ds.VISIBILITY.variable._data.array
    clone = pickle.loads(pickle.dumps(arr))
    times, bls = np.arange(3), np.arange(arr.shape[1])
    chans, pols = np.arange(arr.shape[2]), np.arange(arr.shape[3])
    np.testing.assert_array_equal(clone.read(times, bls, chans, pols), arr.read(times, bls, chans, pols))


def test_reduction_under_local_cluster_equals_single_process(alma_eb):
    tree = av.open_ms(alma_eb.ms, chunks={"time": 16})
    ds = tree["spw_0"].ds
    amp = abs(ds.VISIBILITY_CORRECTED).where(~ds.FLAG).mean("frequency")
    flagged = ds.FLAG.sum(("time", "baseline_id"))
    uvdist = np.hypot(ds.UVW.sel(uvw_label="u"), ds.UVW.sel(uvw_label="v")).max()
    expected = [x.compute(scheduler="synchronous") for x in (amp, flagged, uvdist)]
    assert len(ds.VISIBILITY_CORRECTED.chunks[0]) > 2
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        got = client.compute([amp, flagged, uvdist], sync=True)
        pids = client.run(lambda: __import__("os").getpid())
    assert len(set(pids.values())) == 2
    for g, e in zip(got, expected):
        # float32 means: a worker gets its block through pickle (C-ordered) while the single process reduces the
        # channel-contiguous read in place, so the channel sums may add in another order: they agree to the bound
        # of a float32 sum over the channels (n eps), not to the last bit
        if np.issubdtype(e.dtype, np.floating):
            rtol = ds.sizes["frequency"] * np.finfo(np.float32).eps
            np.testing.assert_allclose(g.values, e.values, rtol=rtol, equal_nan=True)
        else:
            np.testing.assert_array_equal(g.values, e.values)
