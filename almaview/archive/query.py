"""``search``: one row per member OUS from the archive's ObsCore table (TAP through astroquery)."""

from __future__ import annotations

import pandas as pd

from ..errors import UnknownIdentifier
from .client import client, resolve_url, translate, uid_form

#: The columns of :func:`search`, in order.
COLUMNS = [
    "project",
    "mous",
    "group",
    "science_goal",
    "targets",
    "bands",
    "array",
    "freq_min_ghz",
    "freq_max_ghz",
    "resolution_arcsec",
    "release_date",
    "public",
    "qa2_passed",
    "title",
    "pi",
]

_C = 299_792_458.0


def _array(antennas: str) -> str:
    """The array of an ObsCore ``antenna_arrays`` value ('A001:DA44 A002:DV12 ...'): 12m, 7m or TP.

    Examples
    --------
    >>> _array("A001:DA44 A002:DV12"), _array("J501:CM01 J502:CM03"), _array("T701:PM02")
    ('12m', '7m', 'TP')
    """
    names = [a.split(":")[-1] for a in str(antennas).split()]
    kinds = set()
    for n in names:
        if n.startswith(("CM",)):
            kinds.add("7m")
        elif n.startswith(("PM",)):
            kinds.add("TP")
        elif n.startswith(("DA", "DV", "DE")):
            kinds.add("12m")
    return "/".join(k for k in ("12m", "7m", "TP") if k in kinds) or "unknown"


def _text(v) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, bytes):
        v = v.decode()
    s = str(v)
    return "" if s in ("--", "nan") else s


def _payload(project, source, band) -> dict:
    payload: dict = {}
    if project:
        payload["project_code"] = project
    if source:
        payload["source_name_alma"] = source
    if band is not None:
        bands = band if isinstance(band, (list, tuple)) else [band]
        payload["band_list"] = " ".join(str(int(b)) for b in bands)
    return payload


def _coord(position):
    """A SkyCoord from a SkyCoord, 'hh:mm:ss ±dd:mm:ss', 'ra dec' in degrees, or an (ra, dec) pair in degrees.

    Examples
    --------
    >>> round(float(_coord("16:32:22.8 -24:28:36").ra.deg), 3), round(float(_coord((204.25, -29.87)).dec.deg), 2)
    (248.095, -29.87)
    """
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    if isinstance(position, SkyCoord):
        return position
    if isinstance(position, str):
        unit = (u.hourangle, u.deg) if ":" in position or "h" in position else u.deg
        return SkyCoord(position, unit=unit)
    return SkyCoord(*position, unit=u.deg)


def search(
    *,
    project: str | None = None,
    source: str | None = None,
    position=None,
    radius=None,
    band=None,
    public: bool | None = None,
    archive_url: str | None = None,
) -> pd.DataFrame:
    """Find member OUSes in the ALMA archive: one row per member OUS.

    ``project`` is a project code, ``source`` the target name as the archive
    spells it, ``position`` an ``astropy.coordinates.SkyCoord`` (or a string
    SkyCoord understands) with ``radius`` (an angle or arcmin; default 1
    arcmin), ``band`` an ALMA band number (or a list), ``public`` True/False
    to keep only public/proprietary data (None: both).  The columns are
    :data:`COLUMNS`: project code, member/group/science-goal uids (the
    ObsCore table has no science-goal column: it is filled only when the
    archive gives it), targets, bands, array (12m, 7m, TP), frequency coverage
    (GHz), finest angular resolution (arcsec), release date, public, QA2
    status, title and PI.

    Examples
    --------
    >>> from almaview import archive
    >>> archive.search(project="2017.1.01185.S")[["mous", "targets", "bands"]]   # doctest: +SKIP
    """
    if not (project or source or position is not None):
        raise UnknownIdentifier(
            None, "search needs project=, source= or position= (a project code, a target name or coordinates)"
        )
    url = resolve_url(archive_url)
    alma = client(url)
    with translate(url, "querying the archive's TAP service"):
        if position is not None:
            import astropy.units as u

            coord = _coord(position)
            rad = radius if isinstance(radius, u.Quantity) else (1.0 if radius is None else float(radius)) * u.arcmin
            table = alma.query_region(
                coord, rad, public=public, science=True, payload=_payload(project, source, band) or None
            )
        else:
            table = alma.query(_payload(project, source, band), public=public, science=True)
    return summarise(table.to_pandas() if len(table) else pd.DataFrame(columns=table.colnames))


def summarise(obscore: pd.DataFrame) -> pd.DataFrame:
    """Collapse ObsCore rows (one per MOUS, source and spectral window) to one row per member OUS.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"proposal_id": ["2017.1.1.S"] * 2, "member_ous_uid": ["uid://A001/X1/X2"] * 2,
    ...     "group_ous_uid": ["uid://A001/X1/X1"] * 2, "target_name": ["M83", "M83"], "band_list": ["3", "3"],
    ...     "antenna_arrays": ["A001:DA44", "A001:DA44"], "em_min": [2.6e-3, 2.7e-3], "em_max": [2.7e-3, 2.8e-3],
    ...     "spatial_resolution": [1.5, 1.4], "obs_release_date": ["2020-03-03T03:20:58.000"] * 2,
    ...     "data_rights": ["Public"] * 2, "qa2_passed": ["T"] * 2, "obs_title": ["t"] * 2,
    ...     "obs_creator_name": ["Koda, Jin"] * 2})
    >>> r = summarise(rows).iloc[0]
    >>> r.mous, r.targets, float(r.resolution_arcsec), bool(r.public)
    ('uid___A001_X1_X2', 'M83', 1.4, True)
    """
    out = []
    if len(obscore) == 0 or "member_ous_uid" not in obscore:
        return pd.DataFrame(columns=COLUMNS)
    for mous, g in obscore.groupby(obscore["member_ous_uid"].map(_text), sort=True):
        if not mous:
            continue

        def first(col):
            vals = [_text(v) for v in g[col]] if col in g else []
            return next((v for v in vals if v), "")

        def uniq(col, key=str):
            return sorted({_text(v) for v in g[col] if _text(v)}, key=key) if col in g else []

        lam_min = pd.to_numeric(g.get("em_min"), errors="coerce")
        lam_max = pd.to_numeric(g.get("em_max"), errors="coerce")
        res = pd.to_numeric(g.get("spatial_resolution"), errors="coerce")
        sg = first("science_goal_ous_uid") if "science_goal_ous_uid" in g else ""
        release = first("obs_release_date").removeprefix("b'").rstrip("'")
        rights = uniq("data_rights")
        qa2 = uniq("qa2_passed")
        out.append(
            {
                "project": first("proposal_id"),
                "mous": uid_form(mous, url=False),
                "group": uid_form(first("group_ous_uid"), url=False) if first("group_ous_uid") else None,
                "science_goal": uid_form(sg, url=False) if sg else None,
                "targets": ", ".join(uniq("target_name")),
                "bands": ", ".join(uniq("band_list", key=lambda b: (len(b), b))),
                "array": "/".join(sorted({_array(a) for a in g.get("antenna_arrays", [])} - {"unknown"})) or "unknown",
                "freq_min_ghz": float(_C / lam_max.max() / 1e9) if lam_max.notna().any() else None,
                "freq_max_ghz": float(_C / lam_min.min() / 1e9) if lam_min.notna().any() else None,
                "resolution_arcsec": float(res.min()) if res.notna().any() else None,
                "release_date": pd.Timestamp(release) if release else pd.NaT,
                "public": rights == ["Public"],
                "qa2_passed": {"T": True, "F": False}.get(qa2[0]) if len(qa2) == 1 else None,
                "title": first("obs_title"),
                "pi": first("obs_creator_name"),
            }
        )
    return pd.DataFrame(out, columns=COLUMNS)
