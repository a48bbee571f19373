"""Every almaview error is built the same way and lives in almaview/errors.py (one home, one call shape)."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import almaview
from almaview import errors

PACKAGE = Path(almaview.__file__).parent

ERROR_CLASSES = sorted(
    (
        c
        for _, c in inspect.getmembers(errors, inspect.isclass)
        if issubclass(c, errors.AlmaviewError) and c.__module__ == errors.__name__
    ),
    key=lambda c: c.__name__,
)
WARNING_CLASSES = sorted(
    (
        c
        for _, c in inspect.getmembers(errors, inspect.isclass)
        if issubclass(c, Warning) and c.__module__ == errors.__name__
    ),
    key=lambda c: c.__name__,
)


def test_there_are_error_and_warning_classes():
    assert len(ERROR_CLASSES) >= 20
    assert errors.AlmaviewWarning in WARNING_CLASSES


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_error_takes_path_and_message(cls, tmp_path):
    target = tmp_path / "uid___A002_X1_X2.ms"
    err = cls(target, "table.dat is missing (the directory may be half-copied)")
    assert isinstance(err, errors.AlmaviewError)
    assert err.path == str(target)
    assert err.reason == "table.dat is missing (the directory may be half-copied)"
    text = str(err)
    assert str(target) in text and "table.dat is missing" in text
    assert cls.__doc__ and cls.__doc__.strip(), f"{cls.__name__} has no docstring saying what it means"
    # without a path: the message alone
    bare = cls(None, "no delivery was given")
    assert bare.path is None and str(bare) == "no delivery was given"


@pytest.mark.parametrize("cls", WARNING_CLASSES, ids=lambda c: c.__name__)
def test_every_warning_is_an_almaview_warning(cls):
    assert issubclass(cls, errors.AlmaviewWarning)
    with pytest.warns(errors.AlmaviewWarning, match="spw 3"):
        import warnings

        warnings.warn("spw 3 has rows without a DATA_DESCRIPTION", cls, stacklevel=1)


def _classes_defined(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = [ast.unparse(b) for b in node.bases]
            yield node.name, bases, node.lineno


def test_no_error_or_warning_class_outside_errors_py():
    known = {c.__name__ for c in ERROR_CLASSES + WARNING_CLASSES}
    stray = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "errors.py" and path.parent == PACKAGE:
            continue
        for name, bases, line in _classes_defined(path):
            looks_like_error = any(
                b.split(".")[-1] in known or b.endswith(("Error", "Exception", "Warning")) for b in bases
            )
            if looks_like_error:
                stray.append(f"{path.relative_to(PACKAGE.parent)}:{line} class {name}({', '.join(bases)})")
    assert not stray, "exception/warning classes outside almaview/errors.py:\n" + "\n".join(stray)


def test_old_import_locations_still_work():
    from almaview.imaging.beam import InvalidImagingParameter
    from almaview.imaging.contdat import ContDatExists
    from almaview.imaging.spectrum import SpectrumSelectionError
    from almaview.imaging.tclean import OutputInsideDelivery, TcleanFailed
    from almaview.restore import RestoreError, RestoreStopped

    for cls in (
        InvalidImagingParameter,
        ContDatExists,
        SpectrumSelectionError,
        OutputInsideDelivery,
        TcleanFailed,
        RestoreError,
        RestoreStopped,
    ):
        assert getattr(errors, cls.__name__) is cls


def test_cli_prints_one_line_for_a_typed_error(tmp_path):
    """A typed error reaches the terminal as one line naming the path, with no traceback (exit 1)."""
    missing = tmp_path / "no-such-delivery"
    proc = subprocess.run(
        [sys.executable, "-m", "almaview", "info", str(missing)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(missing) in lines[0], proc.stderr
