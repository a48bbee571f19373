"""Constants and the field's vocabulary, each written once (imported by every layer; imports nothing).

- :data:`INTENTS`: ALMA scan intents -> the pipeline's intent names (hifa: ``CALIBRATE_FLUX`` and
  ``CALIBRATE_AMPLI`` are both ``AMPLITUDE``, as in calapply.txt and the weblog).
- :data:`DATA_COLUMNS`: the ``column=`` words (plotms's) -> variables of :func:`almaview.open_ms`.
- :data:`MAD_TO_SIGMA`, :data:`GAUSSIAN_BEAM_FACTOR`, :data:`SPEED_OF_LIGHT`: numbers used by several layers.
- :data:`ANTENNA_DIM`, :data:`CALTABLE_RENAMED`: the trees' antenna dimension and the caltable names almaview 0.1
  used (here so that analysis and plots, which may not import ``almaview.io``, use them; their meaning and the
  rest of the trees' names are in :mod:`almaview.io.msv4`, which exports them).

Examples
--------
>>> from almaview.constants import pipeline_intent, INTENTS
>>> pipeline_intent("CALIBRATE_FLUX#ON_SOURCE"), INTENTS["OBSERVE_TARGET"]
('AMPLITUDE', 'TARGET')
"""

from __future__ import annotations

import math

__all__ = [
    "INTENTS",
    "pipeline_intent",
    "intent_names",
    "DATA_COLUMNS",
    "MAD_TO_SIGMA",
    "GAUSSIAN_BEAM_FACTOR",
    "SPEED_OF_LIGHT",
    "ANTENNA_DIM",
    "CALTABLE_RENAMED",
]

#: ALMA scan intents (the MS's STATE table, without '#ON_SOURCE') -> the pipeline's intent names
INTENTS = {
    "OBSERVE_TARGET": "TARGET",
    "CALIBRATE_BANDPASS": "BANDPASS",
    "CALIBRATE_PHASE": "PHASE",
    "CALIBRATE_FLUX": "AMPLITUDE",
    "CALIBRATE_AMPLI": "AMPLITUDE",
    "OBSERVE_CHECK_SOURCE": "CHECK",
    "CALIBRATE_POLARIZATION": "POLARIZATION",
    "CALIBRATE_POL_ANGLE": "POLANGLE",
    "CALIBRATE_POL_LEAKAGE": "POLLEAKAGE",
    "CALIBRATE_DIFFGAIN_REFERENCE": "DIFFGAINREF",
    "CALIBRATE_DIFFGAIN_SCIENCE": "DIFFGAINSRC",
    "CALIBRATE_DIFFGAIN": "DIFFGAIN",
    "CALIBRATE_ATMOSPHERE": "ATMOSPHERE",
    "CALIBRATE_POINTING": "POINTING",
    "CALIBRATE_SIDEBAND_RATIO": "SIDEBAND",
    "CALIBRATE_WVR": "WVR",
}

#: data-column words (plotms's) -> the MS tree's variables (two names: the first minus the second)
DATA_COLUMNS = {
    "data": ("VISIBILITY",),
    "corrected": ("VISIBILITY_CORRECTED",),
    "model": ("VISIBILITY_MODEL",),
    "corrected-model": ("VISIBILITY_CORRECTED", "VISIBILITY_MODEL"),
}

#: MAD -> standard deviation for Gaussian noise: 1 / Phi^-1(3/4)
MAD_TO_SIGMA = 1.482602218505602

#: Gaussian beam area / (major x minor) for FWHMs: pi / (4 ln 2)
GAUSSIAN_BEAM_FACTOR = math.pi / (4.0 * math.log(2.0))

#: m/s
SPEED_OF_LIGHT = 299_792_458.0

#: The antenna dimension of every almaview tree that has one (xradio MSv4's): single-dish MS nodes, the ``antennas``
#: node, caltables (see :mod:`almaview.io.msv4`).
ANTENNA_DIM = "antenna_name"

#: Caltable names of almaview 0.1 -> the current ones (old trees are renamed with a DeprecationWarning until 0.3).
CALTABLE_RENAMED = {"antenna": ANTENNA_DIM}


def pipeline_intent(alma_intent: str) -> str:
    """The pipeline's name of one ALMA intent ('CALIBRATE_BANDPASS#ON_SOURCE' -> 'BANDPASS'); unknown ones unchanged.

    Examples
    --------
    >>> pipeline_intent("CALIBRATE_FLUX#ON_SOURCE")
    'AMPLITUDE'
    >>> pipeline_intent("MAP_SOURCE")
    'MAP_SOURCE'
    """
    base = str(alma_intent).split("#")[0].strip()
    return INTENTS.get(base, base)


def intent_names(intents: str) -> list[str]:
    """The pipeline's names of a comma-separated intent string, in order, without repeats.

    Examples
    --------
    >>> intent_names("CALIBRATE_FLUX#ON_SOURCE,CALIBRATE_AMPLI#ON_SOURCE,CALIBRATE_WVR#ON_SOURCE")
    ['AMPLITUDE', 'WVR']
    """
    out: list[str] = []
    for part in str(intents).split(","):
        if part.strip():
            name = pipeline_intent(part)
            if name not in out:
                out.append(name)
    return out
