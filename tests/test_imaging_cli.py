"""``almaview tclean`` and ``almaview beam`` on the demo delivery and the ALMA-like EB.

Expected values: the delivered casa_commands.log read by hand (ast on the hif_makeimages line), the
delivered FITS read with astropy (rms), and predict_beam/sweep called directly on the same inputs.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import numpy as np
import pytest

from almaview.cli import main

FIELD = "IRAS16293-2422"
MAD = 1.482602218505602


@pytest.fixture(scope="module")
def member(demo_delivery: Path) -> Path:
    return next(
        p
        for p in sorted(demo_delivery.glob("science_goal.*/group.*/member.*"))
        if list(p.glob("log/*casa_commands.log"))
    )


def _printed_call(out: str) -> dict:
    (line,) = [l for l in out.splitlines() if l.startswith("tclean(")]
    node = ast.parse(line, mode="eval").body
    assert isinstance(node, ast.Call) and node.func.id == "tclean"
    return {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords}


def _log_call(member: Path, specmode: str) -> dict:
    """The delivered hif_makeimages call, read by hand from the log text."""
    text = next(member.glob("log/*casa_commands.log")).read_text()
    line = [l for l in text.splitlines() if l.startswith("tclean(") and f"specmode='{specmode}'" in l][-1]
    return {kw.arg: ast.literal_eval(kw.value) for kw in ast.parse(line, mode="eval").body.keywords}


def test_tclean_prints_the_pipeline_call_with_the_choices(demo_delivery, member, capsys):
    from almaview.imaging import pipeline_parameters

    args = ["tclean", str(demo_delivery), "--kind", "cont", "--robust", "-0.5", "--uvtaper", "1arcsec", "--niter", "50"]
    assert main(args) == 0
    out = capsys.readouterr().out
    got = _printed_call(out)
    log = next(member.glob("log/*casa_commands.log"))
    expected = (
        pipeline_parameters(log, kind="cont", vis_dir=member / "calibrated")
        .apply(robust=-0.5, uvtaper="1arcsec", niter=50)
        .params
    )
    assert got.pop("imagename") != expected.pop("imagename")  # re-imaging names its products itself
    assert got == expected
    # ... and, read by hand from the delivered log: only the choices differ
    delivered = _log_call(member, "mfs")
    changed = {k for k in set(got) | set(delivered) if got.get(k) != delivered.get(k)}
    assert changed == {"robust", "uvtaper", "niter", "vis", "imagename"}
    assert [Path(v).name for v in got["vis"]] == delivered["vis"] and all(Path(v).is_dir() for v in got["vis"])
    assert re.search(r"^# predicted beam [0-9.]+\" x [0-9.]+\"", out, re.M)


def _flat_rms(member: Path, kind: str) -> float:
    """Robust rms of pbcor x pb (pb >= 0.3, outside the clean mask), with astropy and numpy only."""
    from astropy.io import fits

    def read(suffix):
        (path,) = member.glob(f"product/*{kind}.I.{suffix}*")
        with fits.open(path) as h:
            return np.asarray(h[0].data, dtype=float)

    pbcor, pb, mask = read("pbcor"), read("pb."), read("mask")
    flat = pbcor * pb
    keep = np.isfinite(flat) & (np.nan_to_num(pb) >= 0.3) & ~(np.nan_to_num(mask) > 0)
    v = flat[keep]
    return MAD * float(np.median(np.abs(v - np.median(v))))


def test_nsigma_threshold_is_nsigma_times_the_predicted_rms(demo_delivery, member, capsys):
    from almaview.imaging import predict_beam

    assert main(["tclean", str(demo_delivery), "--robust", "-1", "--nsigma", "3"]) == 0
    got = _printed_call(capsys.readouterr().out)
    delivered = _log_call(member, "mfs")
    vis = [str(member / "calibrated" / v) for v in delivered["vis"]]
    kw = dict(field=FIELD, spw=delivered["spw"][0], cell=delivered["cell"], imsize=delivered["imsize"])
    ratio = (
        predict_beam(vis, robust=-1.0, **kw).relative_sensitivity
        / predict_beam(vis, robust=delivered["robust"], **kw).relative_sensitivity
    )
    expected_mjy = 3 * _flat_rms(member, "cont") * ratio * 1e3
    m = re.fullmatch(r"([0-9.eE+-]+)mJy", got["threshold"])
    assert m and float(m.group(1)) == pytest.approx(expected_mjy, rel=2e-3)
    assert got["robust"] == -1.0 and got["weighting"] == "briggs"


def test_tclean_errors_name_the_path(demo_delivery, capsys, tmp_path):
    assert main(["tclean", str(demo_delivery), "--field", "NoSuchSource"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(demo_delivery) in err and "NoSuchSource" in err
    inside = Path(demo_delivery) / "reimaged"
    assert main(["tclean", str(demo_delivery), "--run", str(inside)]) == 1
    err = capsys.readouterr().err
    assert "OutputInsideDelivery" in err and str(inside) in err and not inside.exists()
    assert main(["tclean", str(tmp_path / "missing")]) == 1
    assert str(tmp_path / "missing") in capsys.readouterr().err


def _records(text: str) -> list[dict]:
    return json.loads(text)


def _assert_same_table(got: list[dict], table) -> None:
    assert len(got) == len(table)
    for row, (_, exp) in zip(got, table.iterrows()):
        assert row["robust"] == exp["robust"] and row["weighting"] == exp["weighting"]
        taper = exp["uvtaper_arcsec"]
        if taper is None or taper != taper:
            assert row["uvtaper_arcsec"] is None
        else:
            assert row["uvtaper_arcsec"] == pytest.approx(float(taper))
        for col in ("major", "minor", "pa", "relative_sensitivity", "cell_arcsec", "imsize", "n_visibilities"):
            assert row[col] == pytest.approx(float(exp[col]), rel=1e-9), col


def test_beam_json_equals_sweep_on_a_measurement_set(alma_eb, capsys):
    from almaview.imaging import sweep

    args = [
        "beam",
        str(alma_eb.ms),
        "--field",
        FIELD,
        "--spw",
        "1,2,3",
        "--robust",
        "-1",
        "0.5",
        "natural",
        "--uvtaper",
        "none",
        "1.5arcsec",
        "--cell",
        "0.5arcsec",
        "--imsize",
        "64",
        "--json",
    ]
    assert main(args) == 0
    got = _records(capsys.readouterr().out)
    table = sweep(
        str(alma_eb.ms),
        field=FIELD,
        spw="1,2,3",
        robust=[-1.0, 0.5, "natural"],
        uvtaper=[None, "1.5arcsec"],
        cell="0.5arcsec",
        imsize=64,
        progress=False,
    )
    _assert_same_table(got, table)
    assert {r["cell_arcsec"] for r in got} == {0.5} and {r["imsize"] for r in got} == {64}


def test_beam_on_a_delivery_uses_the_pipeline_grid(demo_delivery, member, capsys):
    from almaview.imaging import sweep

    assert main(["beam", str(demo_delivery), "--field", FIELD, "--robust", "0", "2", "--json"]) == 0
    got = _records(capsys.readouterr().out)
    delivered = _log_call(member, "mfs")
    vis = [str(member / "calibrated" / v) for v in delivered["vis"]]
    table = sweep(
        vis,
        field=FIELD,
        spw=delivered["spw"][0],
        robust=[0.0, 2.0],
        cell=delivered["cell"],
        imsize=delivered["imsize"],
        progress=False,
    )
    _assert_same_table(got, table)
    assert main(["beam", str(demo_delivery), "--field", FIELD, "--robust", "0.5"]) == 0
    text = capsys.readouterr().out
    assert "relative_sensitivity" in text and f"imsize {delivered['imsize'][0]}" in text


def test_beam_bad_field_names_the_ms(alma_eb, capsys):
    assert main(["beam", str(alma_eb.ms), "--field", "NoSuchSource"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(alma_eb.ms) in err and "NoSuchSource" in err


@pytest.mark.parametrize("command", ["tclean", "beam"])
def test_help_has_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: almaview {command}" in out and f"almaview {command} 2023.1.01234.S" in out


def test_bad_usage_exits_2(demo_delivery, capsys):
    for args in (["tclean"], ["tclean", str(demo_delivery), "--robust", "lots"], ["beam", str(demo_delivery)]):
        with pytest.raises(SystemExit) as exit_:
            main(args)
        assert exit_.value.code == 2
