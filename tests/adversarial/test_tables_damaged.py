"""Attacks on CASA tables (python-casacore-written MSs and caltables, damaged with os/open):
each must end in a typed almaview error naming the table's path, never a raw traceback or a
hang, and the package must stay byte-identical."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from mstables import remove_lock_files, write_caltable, write_ms

import almaview as av
from almaview.errors import AlmaviewError, DamagedTable, EmptyMeasurementSet


def tree_digest(root: Path) -> dict[str, tuple]:
    """Every path under ``root``: type, mode, mtime and (regular files) content; FIFOs are not opened."""
    import hashlib
    import stat

    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = p.relative_to(root).as_posix()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("file", st.st_mode, st.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            else:
                out[rel] = ("other", st.st_mode, st.st_mtime_ns)
    return out


NOT_UTF8 = b"Type = Calibration\nSubType = G Jones \xff\xfe caf\xe9\n"


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    root = tmp_path_factory.mktemp("originals")
    ms = write_ms(root / "uid___A002_X1_X2.ms", n_antennas=4, n_times=4)
    cal = write_caltable(root / "uid___A002_X1_X2.ms.hifa_timegaincal.s18_2.spw0_1.solintint.gpcal.tbl")
    remove_lock_files(root)
    return ms, cal


@pytest.fixture
def package(originals, tmp_path):
    """A copy of the two tables inside a 'package' directory, and its digest before the attack."""
    ms, cal = originals
    pkg = tmp_path / "package"
    pkg.mkdir()
    shutil.copytree(ms.path, pkg / ms.path.name)
    shutil.copytree(cal.path, pkg / cal.path.name)
    return pkg, pkg / ms.path.name, pkg / cal.path.name


def _typed(error: type[AlmaviewError], path: Path, fn, *words: str) -> AlmaviewError:
    with pytest.raises(error) as info:
        fn()
    assert str(path.resolve()) in str(info.value), info.value
    for w in words:
        assert w in str(info.value), info.value
    return info.value


def _attack(pkg: Path, damage) -> dict:
    damage()
    return tree_digest(pkg)


def test_caltable_info_with_non_utf8_bytes_opens_from_its_keywords(package, originals):
    pkg, _, cal = package
    before = _attack(pkg, lambda: (cal / "table.info").write_bytes(NOT_UTF8))
    tree = av.open_caltable(cal)  # the VisCal keyword says what it is: table.info is not needed
    written = originals[1].data["CPARAM"]
    np.testing.assert_array_equal(tree["spw_0"].ds.gain.isel(time=0, antenna_name=0).values, written[0][0])
    assert tree_digest(pkg) == before


def test_ms_info_with_non_utf8_bytes_opens_from_its_keywords(package, originals):
    pkg, ms, _ = package
    before = _attack(pkg, lambda: (ms / "table.info").write_bytes(NOT_UTF8.replace(b"Calibration", b"Measurement Set")))
    first = np.asarray(originals[0].data["DATA"][0])
    for tree in (av.open_ms(ms), xr.open_datatree(ms, engine="almaview")):
        np.testing.assert_array_equal(tree["spw_0"].ds.VISIBILITY.isel(time=0, baseline_id=0).values, first)
    assert tree_digest(pkg) == before


def test_table_without_keywords_and_a_non_utf8_info_is_typed(tmp_path):
    from casacore import tables

    from almaview.io.backend import AlmaviewBackendEntrypoint

    path = tmp_path / "mystery.tbl"
    tables.table(str(path), tables.maketabdesc([tables.makescacoldesc("X", 0)]), nrow=2, ack=False).close()
    remove_lock_files(tmp_path)
    (path / "table.info").write_bytes(NOT_UTF8)
    before = tree_digest(tmp_path)
    _typed(DamagedTable, path, lambda: av.open_ms(path), "UTF-8")
    _typed(DamagedTable, path, lambda: av.open_caltable(path), "UTF-8")
    assert AlmaviewBackendEntrypoint().guess_can_open(path) is False
    assert tree_digest(tmp_path) == before


def _data_files(table: Path, column: str) -> list[Path]:
    from casacore import tables

    with tables.table(str(table), ack=False) as t:
        seqnr = next(dm["SEQNR"] for dm in t.getdminfo().values() if column in dm["COLUMNS"])
    remove_lock_files(table)
    return sorted(table.glob(f"table.f{seqnr}*"))


@pytest.mark.parametrize("keep", [0.5, 0.02, 0.0])
def test_truncated_f0i(package, keep):
    pkg, ms, _ = package
    index = ms / "table.f0i"
    assert index in _data_files(ms, "DATA")

    def cut():
        with open(index, "r+b") as fh:
            fh.truncate(int(index.stat().st_size * keep))

    before = _attack(pkg, cut)

    def read():
        ds = av.open_ms(ms)["spw_0"].ds
        abs(ds.VISIBILITY).mean("frequency").compute()
        _ = ds.FLAG.values

    _typed(DamagedTable, ms, read, "copy or extract it again")
    assert tree_digest(pkg) == before


def test_truncated_caltable_data_file(package):
    pkg, _, cal = package
    files = _data_files(cal, "CPARAM")
    before = _attack(pkg, lambda: [os.truncate(f, f.stat().st_size // 3) for f in files])
    _typed(DamagedTable, cal, lambda: av.open_caltable(cal))
    assert tree_digest(pkg) == before


def test_ms_with_no_rows(tmp_path):
    w = write_ms(tmp_path / "empty.ms", nrows=0)
    remove_lock_files(w.path)
    before = tree_digest(tmp_path)
    _typed(EmptyMeasurementSet, w.path, lambda: av.open_ms(w.path), "no rows")
    _typed(EmptyMeasurementSet, w.path, lambda: xr.open_datatree(w.path, engine="almaview"), "no rows")
    assert tree_digest(tmp_path) == before


@pytest.mark.parametrize("how", ["half", "garbage", "empty"])
def test_damaged_table_dat(package, how):
    pkg, ms, _ = package
    dat = ms / "table.dat"
    data = dat.read_bytes()
    content = {"half": data[: len(data) // 2], "garbage": os.urandom(len(data)), "empty": b""}[how]
    before = _attack(pkg, lambda: dat.write_bytes(content))
    _typed(DamagedTable, ms, lambda: av.open_ms(ms))
    assert tree_digest(pkg) == before


def test_table_lock_that_is_a_link_to_dev_zero_is_not_read(package, originals):
    pkg, ms, _ = package
    before = _attack(pkg, lambda: os.symlink("/dev/zero", ms / "table.lock"))
    tree = av.open_ms(ms)  # must not hang copying /dev/zero
    assert tree.attrs["n_rows"] == len(originals[0].rows["TIME"])
    assert tree_digest(pkg) == before


def test_data_file_that_is_a_fifo(package):
    pkg, ms, _ = package

    def fifo():
        (ms / "table.f0i").unlink()
        os.mkfifo(ms / "table.f0i")

    before = _attack(pkg, fifo)
    _typed(DamagedTable, ms, lambda: av.open_ms(ms), "FIFO")
    assert tree_digest(pkg) == before


def test_symlink_loop_inside_a_table_does_not_hang(package, originals):
    pkg, ms, _ = package
    before = _attack(pkg, lambda: os.symlink(".", ms / "loop"))
    tree = av.open_ms(ms)
    assert tree.attrs["n_rows"] == len(originals[0].rows["TIME"])
    assert tree_digest(pkg) == before


def test_missing_subtable_of_a_caltable(package):
    pkg, _, cal = package
    before = _attack(pkg, lambda: shutil.rmtree(cal / "SPECTRAL_WINDOW"))
    _typed(AlmaviewError, cal, lambda: av.open_caltable(cal))
    assert tree_digest(pkg) == before
