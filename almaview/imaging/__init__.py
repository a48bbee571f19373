"""Images and re-imaging: beam prediction, cont.dat editing, the tclean builder and runner.

Nothing heavy is imported until a function is used.

Examples
--------
>>> import almaview as av
>>> av.imaging.predict_beam("uid___A002_X1.ms", field="IRAS16293-2422", robust=0.5)   # doctest: +SKIP
>>> av.imaging.spw_selection({"0": [(230.1e9, 230.4e9)]})
'0:230.1~230.4GHz'
"""

from __future__ import annotations

from .._lazy import lazy_attributes

_LAZY = {
    "predict_beam": ".beam",
    "sweep": ".beam",
    "uv_coverage": ".beam",
    "BeamPrediction": ".beam",
    "InvalidImagingParameter": ".beam",
    "fast_fft_size": ".beam",
    "to_arcsec": ".beam",
    "ContinuumRanges": ".contdat",
    "read_cont_dat": ".contdat",
    "write_cont_dat": ".contdat",
    "format_cont_dat": ".contdat",
    "spw_selection": ".contdat",
    "ContDatExists": ".contdat",
    "TcleanParameters": ".tclean",
    "pipeline_parameters": ".tclean",
    "heuristic_parameters": ".tclean",
    "TcleanRun": ".tcleanrun",
    "run_tclean": ".tcleanrun",
    "parse_casa_commands": ".tclean",
    "TcleanFailed": ".tclean",
    "ms_spectrum": ".spectrum",
    "convert_frequencies": ".spectrum",
    "SpectrumSelectionError": ".spectrum",
    "ms_frame_selection": ".spectrum",
    "ReimagingPlan": ".reimaging",
    "RmsPrediction": ".reimaging",
    "reimaging_plan": ".reimaging",
    "reimaging_parameters": ".reimaging",
    "imaging_partners": ".reimaging",
    "check_output_folder": ".tcleanrun",
    "OutputInsideDelivery": ".tclean",
    "feather": ".combine",
    "FeatherRun": ".combine",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
