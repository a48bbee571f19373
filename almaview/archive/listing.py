"""``files``: what the archive holds for a project, member OUS or EB (DataLink through astroquery)."""

from __future__ import annotations

import posixpath
import re
import warnings
from urllib.parse import unquote, urlparse

import pandas as pd

from ..errors import UnknownIdentifier
from .client import classify, client, resolve_url, translate, uid_form

#: The columns of :func:`files`, in order.
COLUMNS = ["name", "url", "size", "kind", "mous", "eb", "within", "project", "readable"]

_EB_RE = re.compile(r"uid___A002_X[0-9a-zA-Z]+_X[0-9a-zA-Z]+")
_TAR_PROJECT_RE = re.compile(r"^(\d{4}\.[A-Z0-9]\.\d{5}\.[A-Z]{1,4})_uid___")


def _text(v) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, bytes):
        v = v.decode()
    s = str(v).strip()
    return "" if s == "--" else s


def kind_of(name: str, semantics: str, within: str = "") -> str:
    """The kind of a DataLink row: 'readme', 'product', 'auxiliary', 'raw' or 'documentation'.

    Examples
    --------
    >>> kind_of("member.uid___A001_X12a3_Xe9.README.txt", "#documentation")
    'readme'
    >>> kind_of("2017.1.01185.S_uid___A001_X12a3_Xe9_auxiliary.tar", "#auxiliary")
    'auxiliary'
    >>> kind_of("2017.1.01185.S_uid___A002_Xd28a9e_X71b8.asdm.sdm.tar", "#progenitor")
    'raw'
    """
    if within:
        return "auxiliary" if within.endswith("_auxiliary.tar") else "product"
    if semantics == "#progenitor" or name.endswith(".asdm.sdm.tar"):
        return "raw"
    if semantics == "#auxiliary" or name.endswith("_auxiliary.tar"):
        return "auxiliary"
    if semantics == "#documentation":
        return "readme" if "readme" in name.lower() else "documentation"
    return "product"


def rows_from_datalink(table, mous: str) -> list[dict]:
    """Rows of :func:`files` from one astroquery ``get_data_info`` table (a member OUS, tars expanded).

    Examples
    --------
    >>> from astropy.table import Table
    >>> t = Table({"ID": ["uid://A001/X1/X2"], "access_url": ["https://h/dataPortal/member.uid___A001_X1_X2.README.txt"],
    ...            "semantics": ["#documentation"], "content_length": [3523], "readable": [True]})
    >>> rows_from_datalink(t, "uid___A001_X1_X2")[0]["kind"]
    'readme'
    """
    out = []
    mous_url = uid_form(mous)
    for r in table:
        url = _text(r["access_url"])
        if not url:
            continue  # a service descriptor (the recursive DataLink of a tar, a SODA cutout)
        ident = _text(r["ID"])
        within = "" if ident in (mous_url, mous) or ident.startswith("uid") else ident
        name = posixpath.basename(unquote(urlparse(url).path))
        semantics = _text(r["semantics"])
        size = r["content_length"]
        size = None if size is None or _text(size) == "" or pd.isna(size) else int(size)
        eb = _EB_RE.search(name)
        proj = _TAR_PROJECT_RE.match(within or name)
        readable = _text(r["readable"]) if "readable" in table.colnames else ""
        out.append(
            {
                "name": name,
                "url": url,
                "size": size,
                "kind": kind_of(name, semantics, within),
                "mous": mous,
                "eb": eb.group(0) if eb and (semantics == "#progenitor" or name.endswith(".asdm.sdm.tar")) else None,
                "within": within or None,
                "project": proj.group(1) if proj else None,
                "readable": {"true": True, "false": False, "True": True, "False": False}.get(readable),
            }
        )
    project = next((r["project"] for r in out if r["project"]), None)
    for r in out:
        r["project"] = r["project"] or project
    return out


def _mous_of(ident: str, kind: str, url: str) -> list[str]:
    alma = client(url)
    if kind == "mous":
        return [uid_form(ident, url=False)]
    column, value = ("proposal_id", ident) if kind == "project" else ("asdm_uid", uid_form(ident))
    with translate(url, f"looking up {ident} in the archive's TAP service"):
        result = alma.query_tap(f"select distinct member_ous_uid from ivoa.obscore where {column}='{value}'")
    uids = sorted({_text(v) for v in result.to_table()["member_ous_uid"]} - {""})
    if not uids:
        what = "project code" if kind == "project" else "execution block"
        raise UnknownIdentifier(
            ident,
            f"the archive at {url} knows no {what} {ident!r} (no rows in its ObsCore "
            "table): check the spelling, or the mirror (proprietary projects are listed "
            "too, so a typo is the likely cause)",
        )
    return [uid_form(u, url=False) for u in uids]


def files(ident: str, *, archive_url: str | None = None) -> pd.DataFrame:
    """List the files the archive holds for a project code, member OUS uid or EB uid.

    One row per downloadable file: ``name``, ``url``, ``size`` (bytes, the
    archive's content length), ``kind`` (readme, product, auxiliary, raw,
    documentation), ``mous``, ``eb`` (raw files), ``within`` (for what the
    archive lists inside the product and auxiliary tars: the tar that holds
    it; None for the files one downloads), ``project`` and ``readable``
    (False when the archive says the current login may not download it).
    An EB uid lists its member OUS, with only that EB's raw tar.

    Examples
    --------
    >>> from almaview import archive
    >>> t = archive.files("uid://A001/X12a3/Xe9")                      # doctest: +SKIP
    >>> t[t.within.isna()][["name", "kind", "size"]]                   # doctest: +SKIP
    """
    kind = classify(ident)
    url = resolve_url(archive_url)
    alma = client(url)
    rows: list[dict] = []
    for mous in _mous_of(str(ident).strip(), kind, url):
        with translate(url, f"listing {mous} through the archive's DataLink service"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                table = alma.get_data_info(uid_form(mous), expand_tarfiles=True)
            except Exception as err:  # astroquery raises a bare Exception('ERROR ...') for a failed DataLink
                if type(err) is not Exception:
                    raise
                raise UnknownIdentifier(mous, f"the archive's DataLink service at {url} refused it ({err})") from err
        got = rows_from_datalink(table, mous) if table is not None else []
        if not got:
            raise UnknownIdentifier(
                mous, f"the archive at {url} lists no files for this member OUS (unknown uid, or not yet delivered)"
            )
        rows += got
    out = pd.DataFrame(rows, columns=COLUMNS)
    if kind == "eb":
        eb = uid_form(ident, url=False)
        out = out[(out["kind"] != "raw") | (out["eb"] == eb)]
    out["size"] = out["size"].astype("Int64")
    return out.reset_index(drop=True)
