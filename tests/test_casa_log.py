"""CASA's log stays out of the user's output: run_isolated relays a real CASA child's stderr without its log
records (INFO lines, the "leap second table out of date" SEVERE line), also when they start in the middle of a
tqdm bar's line (tqdm writes no newline after "\\r"), and keeps everything else the child writes."""

from __future__ import annotations

import os
import textwrap

import pytest

from almaview import casa, casalog

pytestmark = pytest.mark.skipif(not casa.available(), reason="needs CASA (casatools, casatasks)")

PROBE = textwrap.dedent(
    """
    import sys
    from tqdm import tqdm

    def run(ms):
        import casatasks, casatools
        casatasks.casalog.showconsole(onconsole=True)   # as a child that imports casatasks directly has it
        for _ in tqdm(range(3), desc="probe", file=sys.stderr):
            casatasks.listobs(vis=ms, listfile="", verbose=False)
        me = casatools.measures()
        me.measure(me.epoch("UTC", "2026/12/01"), "TAI")  # dUTC: casadata's TAI_UTC table is out of date
        print("USER-LINE kept", file=sys.stderr)
    """
)


@pytest.fixture
def probe(tmp_path, monkeypatch):
    (tmp_path / "casa_log_probe.py").write_text(PROBE)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.chdir(tmp_path)  # listobs writes nothing, but CASA may leave scratch files in the cwd
    return "casa_log_probe:run"


def test_casa_log_records_are_dropped_bars_and_user_lines_kept(probe, tp_eb, capfd, monkeypatch):
    monkeypatch.delenv("ALMAVIEW_CASA_LOG", raising=False)
    casa.run_isolated(probe, str(tp_eb.ms))
    err = capfd.readouterr().err
    assert "USER-LINE kept" in err
    assert "probe: 100%" in err and "3/3" in err  # the bar's last state reaches the user
    for leak in ("INFO", "SEVERE", "Leap second", "listobs::", "MeasTable"):
        assert leak not in err, (leak, err[-2000:])


def test_casa_log_is_shown_on_request(probe, tp_eb, capfd, monkeypatch):
    # the same child with the filter off: it really wrote the records the first test saw removed
    monkeypatch.setenv("ALMAVIEW_CASA_LOG", "show")
    casa.run_isolated(probe, str(tp_eb.ms))
    err = capfd.readouterr().err
    assert "USER-LINE kept" in err
    assert "\tINFO\tlistobs::::casa" in err
    assert "Leap second table TAI_UTC seems out-of-date" in err
    # at least one record starts on a tqdm bar's line (after "\r", with no newline before it)
    assert any("probe:" in line and "\tINFO\t" in line for line in err.split("\n")), err[:2000]


GAINCAL_PROBE = textwrap.dedent(
    """
    import sys
    from tqdm import tqdm

    def run(ms, caltable):
        import casatasks
        for _ in tqdm(range(1), desc="gaincal probe", file=sys.stderr):
            # an SNR no solution reaches: the calibrater prints "N of M solutions flagged due to SNR < ..."
            casatasks.gaincal(vis=ms, caltable=caltable, solint="inf", calmode="p", minsnr=1e6, refant="")
        print("USER-LINE kept", file=sys.stderr)
        print("USER-OUT kept")
    """
)


def test_the_calibrater_prints_on_the_child_s_stdout_are_dropped(alma_eb, tmp_path, capfd, monkeypatch):
    # `almaview demo` showed "1 of 20 solutions flagged due to SNR < 2 ..." lines (gaincal's, on the child's stdout)
    (tmp_path / "gaincal_probe.py").write_text(GAINCAL_PROBE)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.chdir(tmp_path)
    for show in ("show", ""):
        monkeypatch.setenv("ALMAVIEW_CASA_LOG", show)
        casa.run_isolated("gaincal_probe:run", str(alma_eb.ms), str(tmp_path / f"probe{show}.G"))
        out, err = capfd.readouterr()
        assert "USER-LINE kept" in err and "gaincal probe: 100%" in err
        assert "USER-OUT kept" in out  # the child's own stdout still reaches the user
        flagged = [line for line in (out + err).splitlines() if "solutions flagged due to SNR" in line]
        if show:
            assert flagged, err[-2000:]  # the child really printed it
        else:
            assert not flagged, flagged


def test_filter_is_robust_to_chunking():
    text = (
        "\rprobe:   0%|          | 0/2 [00:00<?, ?it/s]2026-12-02 06:29:50\tINFO\tlistobs::::casa\t####\n"
        "2026-12-02 06:29:50\tSEVERE\tMeasTable::dUTC(Double) (file MeasTable.cc, line 4290)\t"
        "Leap second table TAI_UTC seems out-of-date.\n"
        "0%....10....20....30....40....50....60....70....80....90....100%\n"
        "1 of 20 solutions flagged due to SNR < 2 in spw=0 (chan=1) at 2024/05/16/05:01:22.4\n"
        "\rprobe: 100%|##########| 2/2 [00:01<00:00,  1.9it/s]\nUSER 2026 results: 12.5 Jy\n3 cubes written\n"
    )
    expected = "\rprobe:   0%|          | 0/2 [00:00<?, ?it/s]\rprobe: 100%|##########| 2/2 [00:01<00:00,  1.9it/s]\n"
    expected += "USER 2026 results: 12.5 Jy\n3 cubes written\n"
    for size in (1, 2, 3, 7, 64, len(text)):
        f = casalog.CasaLogFilter()
        got = "".join(f.feed(text[i : i + size]) for i in range(0, len(text), size)) + f.close()
        assert got == expected, size
