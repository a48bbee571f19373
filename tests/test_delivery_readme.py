"""README parsing: the three ALMA layouts (samples written from ALMA's documented fields), unknown and damaged ones."""

from __future__ import annotations

import pytest

from almaview.delivery.readme import missing_fields, parse_readme, parse_readme_strict
from almaview.errors import ReadmeFormatError
from deliveries import readme_sample


def test_cycle0_4_layout():
    r = parse_readme_strict(readme_sample("cycle0-4"), "README")
    assert r.layout == "cycle0-4"
    assert (r.project_code, r.pi_name, r.cycle) == ("2015.1.00456.S", "Ada Lovelace", "3")
    assert r.extra["PI username"] == "alovelace"
    assert r.title == "Gaps and rings in the disk of HD 163296"
    assert (r.configuration, r.proposed_rms, r.proposed_beam) == ("C36-6", "0.05 mJy", "0.12 arcsec")
    assert r.casa_version == "4.5.3" and r.qa2_result == "PASS" and r.sb_name == "HD_163296_a_06_TE"
    assert r.reducer_comments.splitlines() == [
        "Antenna DV08 flagged in all EBs (bad Tsys).",
        "Phase calibrator is weak in spw 3; spw 1 used for phase transfer.",
    ]
    assert r.extra["Total Number of Member SBs in this OUS Group"] == "1"
    assert missing_fields(r) == []


def test_cycle5_layout():
    r = parse_readme_strict(readme_sample("cycle5"))
    assert r.layout == "cycle5"
    assert (r.project_code, r.pi_name, r.configuration) == ("2017.1.00789.S", "Grace Hopper", "C43-6")
    assert r.proposed_rms == "0.8 mJy/beam in 1.1 km/s" and r.proposed_beam == "0.10 arcsec"
    assert r.casa_version == "5.1.1" and r.pipeline_version == "40896 (Pipeline-CASA51-P2-B)"
    assert r.reducer_comments.startswith("The continuum of the science target was self-calibrated")
    assert r.reducer_comments.endswith("affected by atmospheric ozone.")
    assert len(r.achieved_beam) == 2 and len(r.achieved_rms) == 2
    assert r.achieved_rms[0] == "Achieved rms: 0.91 mJy/beam in 1.1 km/s for Orion_KL spw 25 cube"
    assert r.extra == {"Reducer": "A. N. Analyst"}  # unknown key kept verbatim


def test_cycle6_layout():
    r = parse_readme_strict(readme_sample("cycle6"))
    assert r.layout == "cycle6+"
    assert (r.project_code, r.pi_name) == ("2019.1.01234.S", "Marie Curie")
    assert r.mous == "uid___A001_X1465_X2a3a"
    assert r.title == "Dense gas in the nuclear ring of NGC 1234"
    assert r.casa_version == "6.5.4-9" and r.pipeline_version == "2023.1.0.124"
    assert r.reducer_comments.splitlines() == [
        "The pipeline calibration and imaging were accepted without changes.",
        "Spw 19 cube has a weak absorption feature against the nucleus.",
    ]
    assert r.achieved_beam == ["Achieved beam: 0.47 x 0.40 arcsec (PA 81 deg) for NGC_1234 spw 17 cube"]
    assert {"HOW TO", "DATA CATEGORIES", "PROJECT", "REDUCER'S COMMENTS"} <= set(r.sections)
    assert r.extra["Observatory contact"] == "help@almascience.org"


def test_unknown_layout_parses_what_it_can_and_strict_raises():
    text = readme_sample("unknown")
    r = parse_readme(text)
    assert r.layout == "unknown" and r.extra == {"Colour of the sky": "blue"}
    with pytest.raises(ReadmeFormatError, match="README.txt.*follows none of ALMA's README layouts"):
        parse_readme_strict(text, "README.txt")


def test_missing_fields_named():
    r = parse_readme_strict(readme_sample("missing_fields"))
    assert r.project_code == "2021.1.00042.S"
    assert missing_fields(r) == ["PI name", "configuration", "CASA version"]


def test_crlf_and_empty():
    r = parse_readme(readme_sample("cycle0-4").replace("\n", "\r\n"))
    assert r.pi_name == "Ada Lovelace"
    assert parse_readme("").layout == "unknown"
