"""Bad input to open_ms gives a typed almaview error naming the path (issue 2, section 6)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from casacore import tables

import almaview as av
from almaview.errors import AlmaviewError, DamagedTable, NotAMeasurementSet, NotATable, PathNotFound


@pytest.fixture
def ms_copy(ngc5921, tmp_path) -> Path:
    """A private copy of the NGC 5921 MS to damage."""
    target = tmp_path / "damaged.ms"
    shutil.copytree(ngc5921.ms, target)
    return target


def _raises(exc_type, path, *words):
    with pytest.raises(exc_type) as info:
        tree = av.open_ms(path)
        tree["spw_0"].ds.VISIBILITY.values  # errors may only show when data are read
    message = str(info.value)
    assert str(path) in message or str(Path(path).resolve()) in message, message
    for word in words:
        assert word in message, message
    assert isinstance(info.value, AlmaviewError)
    return info.value


def test_missing_path(tmp_path):
    _raises(PathNotFound, tmp_path / "nowhere.ms", "does not exist")


def test_directory_that_is_not_a_table(tmp_path):
    folder = tmp_path / "just_a_folder.ms"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello")
    _raises(NotATable, folder, "table.dat")


def test_plain_file(tmp_path):
    f = tmp_path / "file.ms"
    f.write_text("not a table")
    _raises(NotATable, f)


def test_caltable_handed_to_open_ms(alma_eb):
    err = _raises(NotAMeasurementSet, alma_eb.caltables["bandpass"], "calibration table", "open_caltable")
    assert err.path == str(alma_eb.caltables["bandpass"].resolve())


def test_image_handed_to_open_ms(alma_eb):
    _raises(NotAMeasurementSet, alma_eb.images["cont"], "image")


def test_subtable_handed_to_open_ms(ngc5921):
    _raises(NotAMeasurementSet, ngc5921.ms / "ANTENNA", "not a measurement set")


def test_missing_table_f0(ms_copy):
    for f in ms_copy.glob("table.f0*"):
        f.unlink()
    _raises(DamagedTable, ms_copy, "table.f0")


def test_zero_length_table_dat(ms_copy):
    (ms_copy / "table.dat").write_bytes(b"")
    _raises(DamagedTable, ms_copy, "table.dat")


def test_truncated_table_dat(ms_copy):
    data = (ms_copy / "table.dat").read_bytes()
    (ms_copy / "table.dat").write_bytes(data[: len(data) // 3])
    _raises(DamagedTable, ms_copy)


@pytest.mark.parametrize("subtable", ["ANTENNA", "SPECTRAL_WINDOW", "DATA_DESCRIPTION"])
def test_missing_required_subtable(ms_copy, subtable):
    shutil.rmtree(ms_copy / subtable)
    _raises(DamagedTable, ms_copy, subtable, "missing")


def test_truncated_data_file_fails_on_read_with_the_path(ms_copy):
    # Find the storage-manager files holding DATA, and cut them short.
    with tables.table(str(ms_copy), ack=False) as t:
        seqnr = next(dm["SEQNR"] for dm in t.getdminfo().values() if "DATA" in dm["COLUMNS"])
    files = sorted(ms_copy.glob(f"table.f{seqnr}_TSM*")) or sorted(ms_copy.glob(f"table.f{seqnr}"))
    assert files
    for f in files:
        with open(f, "r+b") as fh:
            fh.truncate(f.stat().st_size // 10)
    tree = av.open_ms(ms_copy)  # opening reads no DATA: it still works
    with pytest.raises(DamagedTable) as info:
        tree["spw_0"].ds.VISIBILITY.values
    assert str(ms_copy.resolve()) in str(info.value) and "DATA" in str(info.value)


def test_missing_index_file_is_typed_even_past_the_file_check(ms_copy, monkeypatch):
    # casacore opens a table whose storage-manager file is gone and fails only when reading:
    # that failure must still become a DamagedTable naming the path, whatever check_table_dir lets through.
    from almaview.io import msindex
    from almaview.io import table as tablemod

    def lenient(path):
        return Path(path).expanduser().resolve()

    monkeypatch.setattr(tablemod, "check_table_dir", lenient)
    monkeypatch.setattr(msindex, "check_table_dir", lenient)
    with tables.table(str(ms_copy), ack=False) as t:
        seqnr = next(dm["SEQNR"] for dm in t.getdminfo().values() if "TIME" in dm["COLUMNS"])
    for f in ms_copy.glob(f"table.f{seqnr}"):
        f.unlink()
    _raises(DamagedTable, ms_copy, f"table.f{seqnr}")
