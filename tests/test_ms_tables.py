"""The table owner (almaview.io.tables): one cached read-only handle and one lock per table per
process, checked once, picklable by path, and nothing written into the user's tables."""

from __future__ import annotations

import os
import pickle
import shutil
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from casacore import tables
from deliveries import tree_digest
from mstables import remove_lock_files, write_ms
from mstables.fixtures import (  # noqa: F401
    small_caltable,
    small_caltable_copy,
    small_ms,
    small_ms_copy,
)

import almaview as av
from almaview.errors import DamagedTable
from almaview.io import table as tablemod
from almaview.io import tables as owner


def _read_everything(ms: Path, caltable: Path) -> None:
    tree = av.open_ms(ms, chunks={"time": 2})
    for name in ("spw_0", "spw_1"):
        ds = tree[name].ds
        for var in ("VISIBILITY", "VISIBILITY_CORRECTED", "FLAG", "WEIGHT", "UVW", "EFFECTIVE_INTEGRATION_TIME"):
            _ = ds[var].values
    av.open_caltable(caltable)
    xr_tree = __import__("xarray").open_datatree(ms, engine="almaview")
    _ = xr_tree["spw_0"].ds.VISIBILITY.isel(time=[0, 3]).values


def test_reading_writes_nothing_into_the_package(small_ms_copy, small_caltable_copy):
    package = small_ms_copy.parent
    assert not list(package.rglob("table.lock"))
    before = tree_digest(package)
    _read_everything(small_ms_copy, small_caltable_copy)
    owner.close_tables()
    _read_everything(small_ms_copy, small_caltable_copy)  # reopened from the views
    assert not list(package.rglob("table.lock"))
    assert tree_digest(package) == before


def test_reading_a_read_only_package_writes_nothing(small_ms_copy, small_caltable_copy):
    package = small_ms_copy.parent
    modes = {}
    for p in sorted(package.rglob("*"), reverse=True) + [package]:
        modes[p] = stat.S_IMODE(p.stat().st_mode)
        p.chmod(modes[p] & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        before = tree_digest(package)
        _read_everything(small_ms_copy, small_caltable_copy)
        assert tree_digest(package) == before
        assert not list(package.rglob("table.lock"))
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


def test_view_mirrors_the_table_and_reads_the_same_values(small_ms_copy):
    view = owner.readonly_view(small_ms_copy)
    assert view != small_ms_copy.resolve()
    assert (view / "ANTENNA" / "table.dat").resolve() == (small_ms_copy / "ANTENNA" / "table.dat").resolve()
    with owner.open_table(small_ms_copy) as t:
        got = t.getcol("DATA", 0, 5)
    with tables.table(str(small_ms_copy), ack=False) as raw:  # independent read (it may create a lock)
        np.testing.assert_array_equal(got, raw.getcol("DATA", 0, 5))


def test_one_handle_per_table_checked_once(small_ms_copy, monkeypatch):
    checks: list[str] = []
    original = tablemod.check_storage_files

    def spy(t, path):
        checks.append(str(path))
        return original(t, path)

    monkeypatch.setattr(tablemod, "check_storage_files", spy)
    with owner.open_table(small_ms_copy) as first:
        pass
    with owner.open_table(small_ms_copy) as second:
        assert second is first
    ds = av.open_ms(small_ms_copy, chunks={"time": 1})["spw_0"].ds
    assert len(ds.VISIBILITY.chunks[0]) == 6
    abs(ds.VISIBILITY).mean("frequency").compute(scheduler="threads")
    assert checks.count(str(small_ms_copy.resolve())) == 1, checks
    assert owner.table_lock(small_ms_copy) is owner.TableRef(small_ms_copy).lock


def test_handle_is_reopened_when_the_table_changes(small_ms_copy):
    with owner.open_table(small_ms_copy) as t:
        n = t.nrows()
    with tables.table(str(small_ms_copy), readonly=False, ack=False) as w:
        w.removerows([0, 1, 2])
    with owner.open_table(small_ms_copy) as t:
        assert t.nrows() == n - 3


def test_table_ref_pickles_as_its_path(small_ms):
    ref = owner.TableRef(small_ms.path, "ANTENNA")
    blob = pickle.dumps(ref)
    assert b"casacore" not in blob and len(blob) < 300
    clone = pickle.loads(blob)
    with clone.open() as t:
        assert list(t.getcol("NAME")) == small_ms.antennas


def test_threads_share_the_handle_safely(small_ms):
    ds = av.open_ms(small_ms.path, chunks={"time": 1})["spw_1"].ds
    expected = np.stack([d for d, dd in zip(small_ms.data["DATA"], small_ms.rows["DATA_DESC_ID"]) if dd == 1])
    barrier = threading.Barrier(4)

    def read(i):
        barrier.wait()
        return ds.VISIBILITY.values

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(read, range(4)))
    for r in results:
        np.testing.assert_array_equal(r.reshape(-1, *r.shape[2:]), expected)


def test_errors_name_the_users_path_not_the_view(small_ms_copy):
    dat = small_ms_copy / "table.f0"
    dat.unlink()
    with pytest.raises(DamagedTable) as info:
        av.open_ms(small_ms_copy)
    assert str(small_ms_copy.resolve()) in str(info.value)
    assert "tables" + os.sep not in str(info.value).replace(str(small_ms_copy.resolve()), "")


def test_close_tables_closes_one_table_and_its_subtables(small_ms_copy):
    av.open_ms(small_ms_copy)
    assert owner.close_tables(small_ms_copy) >= 5  # the main table and the subtables read at open
    assert owner.close_tables(small_ms_copy) == 0


def test_a_copy_of_a_casa_built_ms_and_caltable_stays_unchanged(alma_eb, tmp_path):
    ms = tmp_path / alma_eb.ms.name
    shutil.copytree(alma_eb.ms, ms)  # with its table.lock files: they hold the row counts of tables CASA changed
    tsys = tmp_path / Path(alma_eb.caltables["tsys"]).name
    shutil.copytree(alma_eb.caltables["tsys"], tsys)
    assert remove_lock_files(tsys) > 0
    before = tree_digest(tmp_path)
    tree = av.open_ms(ms)
    amp = abs(tree["spw_0"].ds.VISIBILITY_CORRECTED).mean("frequency").compute()
    with tables.table(str(alma_eb.ms / "POLARIZATION"), ack=False) as pol:  # the original, independently
        assert list(tree["spw_0"].ds.polarization.values) == [
            {9: "XX", 12: "YY"}[c] for c in pol.getcell("CORR_TYPE", 0)
        ]
    assert np.isfinite(amp.values).any()
    tsys_tree = av.open_caltable(tsys)
    with tables.table(str(alma_eb.caltables["tsys"]), ack=False) as t:
        assert (
            sum(tsys_tree[n].ds.sizes["antenna_name"] * tsys_tree[n].ds.sizes["time"] for n in tsys_tree.children)
            >= t.nrows()
        )
    assert tree_digest(tmp_path) == before


def test_a_casa_image_without_lock_files_stays_unchanged(alma_eb, tmp_path):
    image = tmp_path / Path(alma_eb.images["cube"]).name
    shutil.copytree(alma_eb.images["cube"], image)
    remove_lock_files(image)
    before = tree_digest(tmp_path)
    cube = av.open_image(image)
    total = float(cube.sum())
    from casacore import images

    original = images.image(str(alma_eb.images["cube"]))  # independent read of the original, mask applied
    expected = np.where(original.getmask(), np.nan, original.getdata())
    assert total == pytest.approx(float(np.nansum(expected.astype(np.float64))), rel=1e-5)
    assert tree_digest(tmp_path) == before


def test_writer_rows_are_what_the_tests_expect(tmp_path):
    w = write_ms(tmp_path / "x.ms", n_antennas=3, n_times=2, spws=((4, 1e11, 1e6),))
    with tables.table(str(w.path), ack=False) as t:
        assert t.nrows() == 2 * 6
        np.testing.assert_array_equal(t.getcell("DATA", 7), w.data["DATA"][7])


def test_conftest_marks_tests_using_casa_built_fixtures():
    from types import SimpleNamespace

    import conftest

    def item(fixtures, params=None):
        marks = []
        return SimpleNamespace(
            fixturenames=fixtures, callspec=SimpleNamespace(params=params or {}), add_marker=marks.append, marks=marks
        )

    direct, indirect, by_name, fast = (
        item(["tmp_path", "alma_eb"]),
        item(["ms_copy", "sampledata_dir"]),
        item(["request"], {"dataset": "ngc5921"}),
        item(["small_ms"], {"n": 3}),
    )
    conftest.pytest_collection_modifyitems(None, [direct, indirect, by_name, fast])
    assert [m.name for m in direct.marks] == ["casa"] and [m.name for m in by_name.marks] == ["casa"]
    assert [m.name for m in indirect.marks] == ["casa"] and fast.marks == []


def test_views_of_removed_tables_are_pruned(tmp_path, monkeypatch):
    monkeypatch.setenv("ALMAVIEW_CACHE_DIR", str(tmp_path / "cache"))
    kept = write_ms(tmp_path / "kept.ms", n_times=1).path
    gone = [write_ms(tmp_path / f"gone{i}.ms", n_times=1).path for i in range(3)]
    views = [owner.readonly_view(p) for p in [kept, *gone]]
    for p in gone:
        shutil.rmtree(p)
    assert owner.prune_views(views[0].parent, keep=10) == 0  # few views: nothing checked
    assert owner.prune_views(views[0].parent, keep=0) == 3
    assert views[0].is_dir() and not any(v.exists() for v in views[1:])


def test_real_casa_tables_of_another_kind_are_typed_and_untouched(tmp_path):
    """Real tables shipped in casadata (a JPL-Horizons ephemeris): not an MS nor a caltable, and neither
    the installed copy nor a copy without its lock file changes."""
    casadata = pytest.importorskip("casadata")
    from almaview.errors import NotACaltable, NotAMeasurementSet
    from almaview.io.backend import AlmaviewBackendEntrypoint

    installed = min((Path(casadata.__file__).parent / "__data__" / "ephemerides" / "JPL-Horizons").glob("*.tab"))
    copy = tmp_path / installed.name
    shutil.copytree(installed, copy)
    remove_lock_files(copy)
    digests = {p: tree_digest(p) for p in (installed, copy)}
    for path in (installed, copy):
        with pytest.raises(NotAMeasurementSet, match="not a measurement set"):
            av.open_ms(path)
        with pytest.raises(NotACaltable):
            av.open_caltable(path)
        assert AlmaviewBackendEntrypoint().guess_can_open(path) is False
        with owner.open_table(path) as t, tables.table(str(installed), ack=False) as raw:  # independent read
            assert t.nrows() == raw.nrows() > 0 and t.colnames() == raw.colnames()
    assert {p: tree_digest(p) for p in digests} == digests


def test_eviction_never_closes_a_handle_in_use(small_ms_copy, tmp_path, monkeypatch):
    monkeypatch.setattr(owner, "MAX_OPEN_HANDLES", 1)
    others = [write_ms(tmp_path / f"o{i}.ms", n_times=1).path for i in range(3)]
    with owner.open_table(small_ms_copy) as outer:
        for p in others:  # each opens a fresh handle and evicts beyond one
            with owner.open_table(p) as t:
                assert t.nrows() > 0
        assert outer.nrows() == len(small_ms_copy_rows(small_ms_copy))  # still open


def small_ms_copy_rows(path):
    with tables.table(str(path), ack=False) as t:
        return t.getcol("TIME")


def test_a_copy_without_its_lock_files_says_why_it_is_unreadable(alma_eb, tmp_path):
    """CASA changed POLARIZATION in place; its row count lives in table.lock. Without it casacore itself
    cannot read the copy (checked below): almaview says so, naming the path."""
    ms = tmp_path / alma_eb.ms.name
    shutil.copytree(alma_eb.ms, ms)
    remove_lock_files(ms)
    with tables.table(str(ms / "POLARIZATION"), ack=False) as pol, pytest.raises(RuntimeError):
        pol.getcol("CORR_TYPE")  # independent: raw casacore fails on the same copy
    remove_lock_files(ms)
    with pytest.raises(DamagedTable) as info:
        av.open_ms(ms)
    assert str(ms.resolve()) in str(info.value) and "table.lock" in str(info.value)
