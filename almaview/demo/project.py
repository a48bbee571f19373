"""Who and what the demo delivery is: project, OUS and EB uids, people, versions, and the package paths.

Everything here is a constant or a pure function of constants, so the demo is
the same on every machine (no clock, no randomness).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

PROJECT = "2023.1.01234.S"
SCIENCE_GOAL = "uid___A001_X3571_X86"
GROUP = "uid___A001_X3571_X87"
SB_UID = "uid://A001/X3571/X85"
RECIPE = "hifa_calimage"
#: The pipeline version is not real: no ALMA pipeline ran; casatasks ran the pipeline's steps in its order.
PIPELINE_VERSION = "2025.1.0.0-almaview-demo"
PI_NAME = "Ada Astronomer (Username: aastronomer)"
TITLE = "Warm CO(2-1) around the protostellar binary IRAS 16293-2422 (almaview demo delivery)"
LINE_HZ = 230.538e9  # CO(2-1), the line the simulated target emits (almaview.sampledata.simulate)
LINE_SIGMA_HZ = 4.0e6


@dataclass(frozen=True)
class EBPlan:
    """One execution block of the demo."""

    uid: str
    seed: int
    reference_time: str  #: CASA time string of the first integration


@dataclass(frozen=True)
class MousPlan:
    """One member OUS of the demo."""

    uid: str
    kind: str  #: 'alma' (simulated, pipeline-style package), 'aca' (7-m), 'tp' (Total Power) or 'vla' (NGC 5921)
    sb_name: str
    configuration: str
    proposed_rms: str
    proposed_beam: str
    ebs: tuple[EBPlan, ...] = field(default_factory=tuple)

    @property
    def path(self) -> str:
        """The member directory relative to the project directory."""
        return f"science_goal.{SCIENCE_GOAL}/group.{GROUP}/member.{self.uid}"


ALMA = MousPlan(
    uid="uid___A001_X3571_X8a",
    kind="alma",
    sb_name="IRAS1629_a_06_TM1",
    configuration="C-1 (12 antennas)",
    proposed_rms="5.0 mJy/beam per 1.953 MHz channel (cube); 0.5 mJy/beam (continuum)",
    proposed_beam="1.5 arcsec",
    ebs=(
        EBPlan("uid___A002_X10ab2c3_X1f4a", seed=11, reference_time="2024/05/14/05:30:00"),
        EBPlan("uid___A002_X10ab2c3_X2b07", seed=12, reference_time="2024/05/15/05:10:00"),
    ),
)
VLA = MousPlan(
    uid="uid___A001_X3571_X8e",
    kind="vla",
    sb_name="NGC5921_HI_VLA",
    configuration="VLA D (27 antennas; a VLA observation filed in an ALMA-style package)",
    proposed_rms="5.0 mJy/beam per 24.4 kHz channel",
    proposed_beam="60 arcsec",
    ebs=(EBPlan("uid___A002_X5921_X1", seed=0, reference_time="1995/04/13/09:19:00"),),
)
ACA = MousPlan(
    uid="uid___A001_X3571_X8b",
    kind="aca",
    sb_name="IRAS1629_a_06_7M",
    configuration="ACA 7-m (10 antennas)",
    proposed_rms="30 mJy/beam per 1.953 MHz channel (cube); 2 mJy/beam (continuum)",
    proposed_beam="6.0 arcsec",
    ebs=(EBPlan("uid___A002_X10ab2c3_X3a02", seed=13, reference_time="2024/05/16/05:00:00"),),
)
TP = MousPlan(
    uid="uid___A001_X3571_X8c",
    kind="tp",
    sb_name="IRAS1629_a_06_TP",
    configuration="Total Power (3 antennas)",
    proposed_rms="60 mJy/beam per 1.953 MHz channel",
    proposed_beam="29 arcsec",
    ebs=(EBPlan("uid___A002_X10ab2c3_X3c11", seed=21, reference_time="2024/05/17/05:20:00"),),
)
MOUS = (ALMA, VLA, ACA, TP)

#: When the (pretend) pipeline ran: the day after the last ALMA EB, at a fixed time.
PROCESSING_START = datetime(2024, 5, 16, 8, 15, 2)


def processing_time(seconds: float) -> datetime:
    """A deterministic timestamp ``seconds`` after the pretend pipeline started.

    Examples
    --------
    >>> processing_time(60).isoformat()
    '2024-05-16T08:16:02'
    """
    return PROCESSING_START + timedelta(seconds=seconds)


def weblog_dirname() -> str:
    """The weblog's top directory, ``pipeline-<timestamp>`` as the pipeline names it.

    Examples
    --------
    >>> weblog_dirname()
    'pipeline-20240516T081502'
    """
    return "pipeline-" + PROCESSING_START.strftime("%Y%m%dT%H%M%S")


def uid_url(uid: str) -> str:
    """'uid___A001_X1_X2' -> 'uid://A001/X1/X2' (the form used inside XML and READMEs).

    Examples
    --------
    >>> uid_url("uid___A001_X3571_X8a")
    'uid://A001/X3571/X8a'
    """
    return "uid://" + uid[len("uid___") :].replace("_", "/")
