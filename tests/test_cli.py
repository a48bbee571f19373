"""The almaview command line: info (text and --json), demo, errors and --help."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import almaview as av
from almaview.cli import main
from deliveries import BP, CHECK, EBS, MOUS, PH, SCI
from deliveries.fixtures import _pipeline_pkg_built, cache, pipeline_pkg  # noqa: F401


def test_info_prints_the_summary(pipeline_pkg, capsys):
    spec, base = pipeline_pkg
    assert main(["info", str(spec.root), "--no-ms"]) == 0
    out = capsys.readouterr().out
    for needle in (
        spec.project,
        "PI Marie Curie",
        f"member OUS {MOUS}",
        *EBS,
        "spws: 17, 19",
        f"{SCI}: TARGET",
        f"{BP}: AMPLITUDE,BANDPASS",
        f"{PH}: PHASE,CHECK",
        f"{CHECK}: PHASE,CHECK",
        "images (17):",
        "NGC_1234 sci spw17 cube I pbcor",
        "Calibration 0.20 (error)",
        "stage 4 hifa_bandpass: 0.50 (warning)",
        "calibrated MS missing for 2 of 3 EBs",
    ):
        assert needle in out, needle


def test_info_json_round_trips(pipeline_pkg, capsys):
    spec, base = pipeline_pkg
    assert main(["info", str(spec.root), "--json", "--no-ms"]) == 0
    got = json.loads(capsys.readouterr().out)
    expected = json.loads(json.dumps(av.open_delivery(spec.root, read_ms=False).to_dict(), default=str))
    assert got == expected
    assert got["project_code"] == spec.project and got["pi_name"] == "Marie Curie"
    (m,) = got["mous"]
    assert sorted(e["uid"] for e in m["ebs"]) == sorted(EBS)
    assert {i["name"] for i in m["images"]} == set(spec.images)
    assert [s["score"] for s in m["qa"]["aqua"]["stages"]] == [s[2] for s in spec.stages]
    assert any("calibrated MS missing" in line for line in got["status"])


def test_errors_one_line_with_path(tmp_path, cache, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["info", str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path / "empty") in err and "NotADelivery" in err
    assert main(["info", str(tmp_path / "missing")]) == 1
    assert "PathNotFound" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--help"], ["info", "--help"], ["demo", "--help"]])
def test_help_for_every_subcommand(args, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 0
    assert "usage: almaview" in capsys.readouterr().out


def test_bad_usage_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["info"])
    assert exit_.value.code == 2


@pytest.mark.parametrize("module", [None, "no build function"])
def test_demo_without_builder_is_a_clean_error(tmp_path, monkeypatch, capsys, module):
    import types

    # None in sys.modules makes the import fail as if almaview.demo did not exist
    monkeypatch.setitem(sys.modules, "almaview.demo", None if module is None else types.ModuleType("almaview.demo"))
    assert main(["demo", str(tmp_path / "d")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "almaview.demo" in err
    assert not (tmp_path / "d").exists()


def test_python_dash_m(pipeline_pkg, cache):
    spec, base = pipeline_pkg
    r = subprocess.run(
        [sys.executable, "-m", "almaview", "info", str(spec.root), "--json", "--no-ms"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["project_code"] == spec.project


def test_demo_calls_the_builder(tmp_path, monkeypatch, capsys):
    import types

    calls = []
    fake = types.ModuleType("almaview.demo")
    fake.build = lambda d: calls.append(d) or d
    monkeypatch.setitem(sys.modules, "almaview.demo", fake)
    assert main(["demo", str(tmp_path / "demo")]) == 0
    assert calls == [str(tmp_path / "demo")]
