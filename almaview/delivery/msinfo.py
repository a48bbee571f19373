"""Fields, intents and spws of a calibrated MS, through ``almaview.open_ms`` (metadata nodes only).

Imported lazily by the delivery builder and guarded there: if the MS reader
is missing or fails, the delivery falls back to the package's text files.
No visibility data is read.
"""

from __future__ import annotations

import os
from typing import Any

from .model import FieldInfo

_NAME = ("name", "field_name", "field", "source_name")
_INTENT = ("intents", "intent", "scan_intent", "obs_mode")
_SPW = ("spw", "spw_id", "spectral_window_id", "data_desc_id", "id")


def _frame(node: Any):
    ds = node.ds if hasattr(node, "ds") else node
    df = ds.to_dataframe() if ds.sizes else ds.to_pandas()
    df = df.reset_index()
    df.columns = [str(c).lower() for c in df.columns]
    return df


def _pick(df, names: tuple[str, ...]) -> str | None:
    return next((c for c in names if c in df.columns), None)


def _split(v: Any) -> list[str]:
    if isinstance(v, (list, tuple)):
        return [str(x) for x in v]
    if hasattr(v, "tolist"):
        v = v.tolist()
        if isinstance(v, list):
            return [str(x) for x in v]
    return [s for s in str(v).replace(";", ",").split(",") if s]


def ms_fields_spws(ms: str | os.PathLike) -> tuple[list[FieldInfo], list[dict[str, Any]]]:
    """Return (fields with intents and spws, spw rows) of an MS from open_ms's metadata nodes.

    Examples
    --------
    >>> fields, spws = ms_fields_spws("uid___A002_X1_X2.ms.split.cal")   # doctest: +SKIP
    >>> fields[0].name, fields[0].intents                                # doctest: +SKIP
    ('J1924-2914', ['BANDPASS', 'AMPLITUDE'])
    """
    from ..io.ms import open_ms  # lazy: written by another module owner

    dt = open_ms(ms)
    fields_df = _frame(dt["fields"])
    name_col = _pick(fields_df, _NAME)
    fields = {str(n): FieldInfo(str(n), [], [], "ms") for n in (fields_df[name_col] if name_col else [])}
    try:
        scans = _frame(dt["scans"])
        fcol, icol, scol = _pick(scans, _NAME), _pick(scans, _INTENT), _pick(scans, ("spws", "spw", "spw_ids"))
        for _, row in scans.iterrows():
            for fname in _split(row[fcol]) if fcol else []:
                f = fields.setdefault(fname, FieldInfo(fname, [], [], "ms"))
                for i in _split(row[icol]) if icol else []:
                    i = i.split("#")[0].replace("CALIBRATE_", "").replace("OBSERVE_", "")
                    if i and i not in f.intents:
                        f.intents.append(i)
                for s in _split(row[scol]) if scol else []:
                    if s not in f.spws:
                        f.spws.append(s)
    except (KeyError, AttributeError, ValueError):
        pass
    spws_df = _frame(dt["spws"])
    rows = [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in spws_df.to_dict("records")]
    return list(fields.values()), rows
