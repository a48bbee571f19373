"""A local stand-in of the ALMA archive for tests, benchmarks and the notebook run in CI (no internet there).

It answers on 127.0.0.1 what the archive answers, in the archive's own words:

- DataLink (``/datalink/sync?ID=...``): the answers astroquery recorded from the
  real archive (``astroquery/alma/tests/data/alma-datalink*.xml``), replayed with
  their host names rewritten to the stand-in; for the demo project the same
  recorded documents are the template (their FIELDs and service descriptors,
  the archive's semantics and descriptions) filled with the demo's files.
- TAP (``/tap/sync``): the recorded ObsCore row (``alma-onerow.txt``, project
  2017.1.00079.S) and, built from it, one row per member OUS of the demo (its
  target, position and frequencies read from the demo's FITS products with
  astropy); ADQL runs on SQLite with CIRCLE/POINT/INTERSECTS/CONTAINS added.
- Files (``/dataPortal/<name>``): the demo delivery packed as the archive
  packs it (README, ``<project>_<MOUS>_001_of_001.tar`` with product/,
  ``<project>_<MOUS>_auxiliary.tar`` with calibration/ script/ qa/ log/, and
  ``<project>_<EB>.asdm.sdm.tar`` per EB), with ``Range`` support.

Faults for tests: ``cut_once[name] = n`` closes the connection after n bytes
the first time the file is asked for, ``cut_always[name] = n`` every time,
``proprietary`` (MOUS uids) answers 401 for their files, ``down`` refuses
everything with a closed socket. ``requests`` logs (method, path, Range).

Run it alone (benchmarks, a notebook): ``python tests/archive/standin.py [--port N]``
prints its base URL and serves until killed.
"""

from __future__ import annotations

import html
import io
import json
import math
import os
import re
import sqlite3
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

RECORDED_HOSTS = ("https://almascience.org", "https://2022jun.asa-test.hq.eso.org")
RECORDED_MOUS = "uid://A001/X12a3/Xe9"
RECORDED_TARS = {
    "2017.1.01185.S_uid___A001_X12a3_Xe9_001_of_001.tar": "alma-datalink-recurse-this.xml",
    "2017.1.01185.S_uid___A001_X12a3_Xe9_auxiliary.tar": "alma-datalink-recurse-aux.xml",
}
AUX_DIRS = ("calibration", "script", "qa", "log")


def recorded(name: str) -> Path:
    """A file of astroquery's recorded archive answers."""
    import astroquery.alma

    return Path(astroquery.alma.__file__).parent / "tests" / "data" / name


# ------------------------------------------------------------------------------------------ the tars


def pack(project_dir: Path, out: Path) -> dict:
    """Pack a delivery project directory as the archive hands it out; return the manifest (written as JSON).

    Deterministic for an unchanged delivery; built into ``out`` once (a second call reads the manifest).
    """
    manifest_path = out / "manifest.json"
    if manifest_path.is_file():
        return json.loads(manifest_path.read_text())
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    project = project_dir.name
    mous_list = []
    for member in sorted(project_dir.glob("science_goal.*/group.*/member.*")):
        uid = member.name.split(".", 1)[1]
        rel = member.relative_to(project_dir.parent)
        files = []

        def tar(name: str, paths: list[Path]) -> None:
            with tarfile.open(tmp / name, "w", format=tarfile.PAX_FORMAT) as tf:
                for p in paths:
                    tf.add(p, arcname=str(rel / p.relative_to(member)))

        readme = next(member.glob("*README*"), None)
        if readme is not None:
            (tmp / readme.name).write_bytes(readme.read_bytes())
            files.append({"name": readme.name, "kind": "readme"})
        if (member / "product").is_dir():
            name = f"{project}_{uid}_001_of_001.tar"
            tar(name, [member / "product"])
            files.append({"name": name, "kind": "product", "inner": _inner(member / "product")})
        name = f"{project}_{uid}_auxiliary.tar"
        tar(name, [member / d for d in AUX_DIRS if (member / d).is_dir()])
        files.append(
            {
                "name": name,
                "kind": "auxiliary",
                "inner": sum((_inner(member / d) for d in AUX_DIRS if (member / d).is_dir()), []),
            }
        )
        for asdm in sorted((member / "raw").glob("*.asdm.sdm")):
            eb = asdm.name.removesuffix(".asdm.sdm")
            name = f"{project}_{eb}.asdm.sdm.tar"
            tar(name, [asdm])
            files.append({"name": name, "kind": "raw", "eb": eb})
        for f in files:
            f["size"] = (tmp / f["name"]).stat().st_size
        mous_list.append(
            {
                "uid": uid,
                "group": member.parent.name.split(".", 1)[1],
                "files": files,
                "fits": [str(p.relative_to(project_dir)) for p in sorted((member / "product").glob("*.fits"))],
            }
        )
    manifest = {"project": project, "mous": mous_list}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
    try:
        os.replace(tmp, out)
    except OSError:  # built meanwhile by another process
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return json.loads(manifest_path.read_text())


def _inner(d: Path) -> list[dict]:
    return [{"name": p.name, "size": p.stat().st_size} for p in sorted(d.rglob("*")) if p.is_file()]


# ------------------------------------------------------------------------------------------ TAP (ObsCore on SQLite)


def _recorded_row() -> dict:
    from astropy.table import Table

    t = Table.read(recorded("alma-onerow.txt"), format="ascii")
    row = {}
    for c in t.colnames:
        v = t[c][0]
        if hasattr(t[c], "mask") and t[c].mask[0]:
            row[c] = None
            continue
        v = v.item() if hasattr(v, "item") else v
        if isinstance(v, str) and v.startswith("b'") and v.endswith("'"):
            v = v[2:-1]  # the recording wrote bytes as their repr
        row[c] = v
    return row


def _demo_rows(project_dir: Path, manifest: dict) -> list[dict]:
    from astropy.io import fits

    template = _recorded_row()
    rows = []
    for m in manifest["mous"]:
        uid = "uid://" + m["uid"].removeprefix("uid___").replace("_", "/")
        for fits_rel in m["fits"][:1]:
            h = fits.getheader(project_dir / fits_rel)
            nu = [h["CRVAL3"] + (i + 1 - h["CRPIX3"]) * h["CDELT3"] for i in (1, h["NAXIS3"])]
            ra, dec = h["CRVAL1"], h["CRVAL2"]
            half = abs(h["CDELT1"]) * h["NAXIS1"] / 2
            row = dict(template)
            row.update(
                obs_publisher_did=f"ADS/JAO.ALMA#{manifest['project']}",
                obs_id=uid,
                proposal_id=manifest["project"],
                member_ous_uid=uid,
                group_ous_uid="uid://" + m["group"].removeprefix("uid___").replace("_", "/"),
                target_name=h.get("OBJECT", ""),
                s_ra=ra,
                s_dec=dec,
                s_region="Polygon ICRS "
                + " ".join(
                    f"{ra + dx / math.cos(math.radians(dec)):.6f} {dec + dy:.6f}"
                    for dx, dy in ((-half, -half), (half, -half), (half, half), (-half, half))
                ),
                em_min=299792458.0 / max(nu),
                em_max=299792458.0 / min(nu),
                frequency=sum(nu) / 2e9,
                band_list=6 if 211e9 < min(nu) < 275e9 else None,
                obs_release_date="2025-05-16T00:00:00.000",
                data_rights="Public",
                obs_title="almaview demo",
                obs_creator_name=h.get("OBSERVER", template["obs_creator_name"]),
                spatial_resolution=3600 * h.get("BMAJ", 0) or template["spatial_resolution"],
            )
            if min(nu) < 100e9:  # NGC 5921 is a VLA observation: no ALMA band, no ALMA antennas
                row["antenna_arrays"] = " ".join(f"VLA{i:02d}:VA{i:02d}" for i in range(1, 28))
            ebs = ["uid://" + f["eb"].removeprefix("uid___").replace("_", "/") for f in m["files"] if f.get("eb")]
            for eb in ebs or [None]:  # one row per EB, as the archive's asdm_uid column holds one uid
                rows.append(dict(row, asdm_uid=eb))
    return rows


def _circle(frame, ra, dec, r):
    return f"CIRCLE {ra} {dec} {r}"


def _point(frame, ra, dec):
    return f"POINT {ra} {dec}"


def _sep(ra1, dec1, ra2, dec2) -> float:
    a1, d1, a2, d2 = map(math.radians, (ra1, dec1, ra2, dec2))
    c = math.sin(d1) * math.sin(d2) + math.cos(d1) * math.cos(d2) * math.cos(a1 - a2)
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def _intersects(a, b):
    """CIRCLE vs an s_region polygon: centre inside, or within r of a vertex (enough for a stand-in)."""
    shapes = [a, b]
    circle = next((s for s in shapes if str(s).startswith("CIRCLE")), None)
    poly = next((s for s in shapes if str(s).lower().startswith("polygon")), None)
    if circle is None or poly is None:
        return 0
    ra, dec, r = map(float, circle.split()[1:])
    nums = [float(x) for x in re.findall(r"-?\d+\.?\d*(?:[eE]-?\d+)?", poly)]
    pts = list(zip(nums[0::2], nums[1::2]))
    if any(_sep(ra, dec, x, y) <= r for x, y in pts):
        return 1
    inside = False
    for (x1, y1), (x2, y2) in zip(pts, pts[1:] + pts[:1]):
        if (y1 > dec) != (y2 > dec) and ra < x1 + (dec - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return int(inside)


class ObsCore:
    """The stand-in's ObsCore table in SQLite."""

    def __init__(self, rows: list[dict]):
        self.columns = list(rows[0])
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.lock = threading.Lock()
        self.db.create_function("CIRCLE", 4, _circle)
        self.db.create_function("POINT", 3, _point)
        self.db.create_function("INTERSECTS", 2, _intersects)
        self.db.create_function("CONTAINS", 2, _intersects)
        self.db.execute(f"create table obscore ({', '.join(self.columns)})")
        self.db.executemany(
            f"insert into obscore values ({', '.join('?' * len(self.columns))})",
            [[r.get(c) for c in self.columns] for r in rows],
        )

    def query(self, adql: str) -> bytes:
        sql = re.sub(r"ivoa\.obscore", "obscore", adql, flags=re.IGNORECASE)
        sql = re.sub(r"^\s*select\s+top\s+(\d+)\s+(.*)$", r"select \2 limit \1", sql, flags=re.IGNORECASE | re.DOTALL)
        with self.lock:
            cur = self.db.execute(sql)
            names = [d[0] for d in cur.description]
            data = cur.fetchall()
        return votable(names, data)


def votable(names: list[str], data: list[tuple]) -> bytes:
    """A TAP result document (VOTable 1.4 with QUERY_STATUS OK) from rows."""
    from astropy.io.votable import from_table
    from astropy.table import MaskedColumn, Table

    cols = []
    for i, n in enumerate(names):
        vals = [r[i] for r in data]
        kinds = {type(v) for v in vals if v is not None}
        if kinds <= {int}:
            cols.append(
                MaskedColumn(
                    [0 if v is None else v for v in vals], name=n, mask=[v is None for v in vals], dtype="int64"
                )
            )
        elif kinds <= {int, float}:
            cols.append(
                MaskedColumn(
                    [math.nan if v is None else float(v) for v in vals],
                    name=n,
                    dtype="float64",
                    mask=[v is None for v in vals],
                )
            )
        else:
            cols.append(MaskedColumn(["" if v is None else str(v) for v in vals], name=n, dtype=object))
    buf = io.BytesIO()
    from_table(Table(cols)).to_xml(buf)
    text = buf.getvalue().decode()
    text = re.sub(r'(<RESOURCE type="results">)', r'\1\n  <INFO name="QUERY_STATUS" value="OK"/>', text, count=1)
    return text.encode()


# ------------------------------------------------------------------------------------------ DataLink

_ROW = """          <TR>
            <TD>{id}</TD>
            <TD>{url}</TD>
            <TD>{service}</TD>
            <TD>{error}</TD>
            <TD>{semantics}</TD>
            <TD>{description}</TD>
            <TD>{ctype}</TD>
            <TD>{size}</TD>
            <TD>{readable}</TD>
          </TR>
"""
_SERVICE = """  <RESOURCE type="meta" ID="DataLink.{tar}" utype="adhoc:service">
    <PARAM name="standardID" datatype="char" arraysize="37" value="ivo://ivoa.net/std/DataLink#links-1.0" />
    <PARAM name="accessURL" datatype="char" arraysize="{n}" value="{url}" />
    <GROUP name="inputParams" />
  </RESOURCE>
"""


def _template() -> tuple[str, str]:
    text = recorded("alma-datalink.xml").read_text()
    head = text[: text.index("<TABLEDATA>") + len("<TABLEDATA>")] + "\n"
    return (
        head,
        '        </TABLEDATA>\n      </DATA>\n    </TABLE>\n    <INFO name="placeholder" value="ignore" />\n  </RESOURCE>\n',
    )


def _tr(**kw) -> str:
    kw = {k: html.escape(str(v)) if v is not None else "" for k, v in kw.items()}
    return _ROW.format(**kw)


def datalink_mous(base: str, manifest: dict, m: dict) -> bytes:
    """The DataLink answer for one demo member OUS, in the recorded answer's format."""
    head, tail = _template()
    uid = "uid://" + m["uid"].removeprefix("uid___").replace("_", "/")
    rows, services = [], []
    for f in m["files"]:
        url = f"{base}/dataPortal/{f['name']}"
        if f["kind"] == "readme":
            rows.append(
                _tr(
                    id=uid,
                    url=url,
                    service=None,
                    error=None,
                    semantics="#documentation",
                    description=f"Download documentation for ./{uid}|README.",
                    ctype="text/plain",
                    size=f["size"],
                    readable="true",
                )
            )
            continue
        sem = {"product": "#this", "auxiliary": "#auxiliary", "raw": "#progenitor"}[f["kind"]]
        desc = (
            "Download dataset of type: , and class: N/A."
            if f["kind"] == "raw"
            else "Download dataset of type: null, and class: N/A."
        )
        rows.append(
            _tr(
                id=uid,
                url=url,
                service=None,
                error=None,
                semantics=sem,
                description=desc,
                ctype="application/x-tar",
                size=f["size"],
                readable="true",
            )
        )
        if f["kind"] in ("product", "auxiliary"):
            rows.append(
                _tr(
                    id=uid,
                    url=None,
                    service=f"DataLink.{f['name']}",
                    error=None,
                    semantics=sem,
                    description=None,
                    ctype="application/x-votable+xml;content=datalink",
                    size=None,
                    readable=None,
                )
            )
            access = f"{base}/datalink/sync?ID={f['name']}"
            services.append(_SERVICE.format(tar=f["name"], n=len(access), url=access))
    return (head + "".join(rows) + tail + "".join(services) + "</VOTABLE>\n").encode()


def datalink_tar(base: str, f: dict) -> bytes:
    head, tail = _template()
    sem = "#this" if f["kind"] == "product" else "#auxiliary"
    rows = [
        _tr(
            id=f["name"],
            url=f"{base}/dataPortal/{i['name']}",
            service=None,
            error=None,
            semantics=sem,
            description=f"Download dataset of type: {f['kind']}, and class: "
            f"{'SCIENCE' if f['kind'] == 'product' else 'N/A'}.",
            ctype="application/octet-stream",
            size=i["size"],
            readable="true",
        )
        for i in f["inner"]
    ]
    return (head + "".join(rows) + tail + "</VOTABLE>\n").encode()


def datalink_unknown(ident: str) -> bytes:
    head, tail = _template()
    row = _tr(
        id=ident,
        url=None,
        service=None,
        error=f"NotFoundFault: {ident} not found",
        semantics="#this",
        description=None,
        ctype=None,
        size=None,
        readable=None,
    )
    return (head + row + tail + "</VOTABLE>\n").encode()


def replay(name: str, base: str) -> bytes:
    """A recorded DataLink answer with its host names rewritten to the stand-in."""
    text = recorded(name).read_text()
    for host in RECORDED_HOSTS:
        text = text.replace(host, base)
    return text.encode()


# ------------------------------------------------------------------------------------------ the server


class StandIn:
    """The archive stand-in: ``start()`` it, use ``url``, ``stop()`` it (or use it as a context manager)."""

    def __init__(self, project_dir: Path, tar_dir: Path, port: int = 0):
        self.project_dir = Path(project_dir)
        self.tar_dir = Path(tar_dir)
        self.manifest = pack(self.project_dir, self.tar_dir)
        rows = [_recorded_row()] + _demo_rows(self.project_dir, self.manifest)
        self.obscore = ObsCore(rows)
        self.cut_once: dict[str, int] = {}
        self.cut_always: dict[str, int] = {}
        self.proprietary: set[str] = set()
        self.down = False
        self.throttle: float | None = None  #: bytes per second per connection (None: as fast as it goes)
        self.requests: list[tuple[str, str, str]] = []
        self._port = port
        self.server: ThreadingHTTPServer | None = None

    # the file a name maps to, or None
    def path_of(self, name: str) -> Path | None:
        p = self.tar_dir / name
        return p if name and "/" not in name and p.is_file() and name != "manifest.json" else None

    def make_proprietary(self, mous: str, release: str) -> None:
        """Answer 401 for a member OUS's files; its ObsCore rows say Proprietary until ``release`` (ISO date)."""
        self.proprietary.add(mous)
        uid = "uid://" + mous.removeprefix("uid___").replace("_", "/")
        with self.obscore.lock:
            self.obscore.db.execute(
                "update obscore set data_rights='Proprietary', obs_release_date=? where member_ous_uid=?",
                (release, uid),
            )

    def reset(self) -> None:
        """Forget faults and the request log (between tests)."""
        self.cut_once.clear()
        self.cut_always.clear()
        for mous in list(self.proprietary):
            uid = "uid://" + mous.removeprefix("uid___").replace("_", "/")
            with self.obscore.lock:
                self.obscore.db.execute(
                    "update obscore set data_rights='Public', "
                    "obs_release_date='2025-05-16T00:00:00.000' where member_ous_uid=?",
                    (uid,),
                )
        self.proprietary.clear()
        self.down = False
        self.throttle = None
        self.requests.clear()

    def mous_of_file(self, name: str) -> str | None:
        for m in self.manifest["mous"]:
            if any(f["name"] == name for f in m["files"]):
                return m["uid"]
        return None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> StandIn:
        handler = type("Handler", (_Handler,), {"standin": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", self._port), handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True, name="archive-standin").start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    standin: StandIn
    protocol_version = "HTTP/1.0"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, code: int, body: bytes, ctype: str = "application/x-votable+xml") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _params(self) -> dict:
        q = parse_qs(urlparse(self.path).query)
        if self.command == "POST":
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n).decode()
            ctype = self.headers.get("Content-Type", "")
            if "multipart" in ctype:
                for m in re.finditer(r'name="([^"]+)"\r?\n\r?\n(.*?)\r?\n--', body, re.DOTALL):
                    q.setdefault(m.group(1), []).append(m.group(2))
            else:
                for k, v in parse_qs(body).items():
                    q.setdefault(k, []).extend(v)
        return {k.upper(): v[-1] for k, v in q.items()}

    def do_POST(self) -> None:
        self.do_GET()

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        s = self.standin
        path = urlparse(self.path).path
        s.requests.append((self.command, path, self.headers.get("Range", "")))
        if s.down:
            self.close_connection = True
            self.connection.close()
            return
        base = s.url
        if path in ("", "/"):
            return self._send(200, b"<html><body>ALMA archive stand-in</body></html>", "text/html")
        if path == "/tap/sync":
            query = self._params().get("QUERY", "")
            try:
                return self._send(200, s.obscore.query(query))
            except sqlite3.Error as err:
                return self._send(400, f"query failed: {err}".encode(), "text/plain")
        if path == "/datalink/sync":
            ident = unquote(self._params().get("ID", ""))
            if ident == RECORDED_MOUS:
                return self._send(200, replay("alma-datalink.xml", base))
            if ident in RECORDED_TARS:
                return self._send(200, replay(RECORDED_TARS[ident], base))
            for m in s.manifest["mous"]:
                if ident in ("uid://" + m["uid"].removeprefix("uid___").replace("_", "/"), m["uid"]):
                    return self._send(200, datalink_mous(base, s.manifest, m))
                for f in m["files"]:
                    if f["name"] == ident and f.get("inner"):
                        return self._send(200, datalink_tar(base, f))
            return self._send(200, datalink_unknown(ident))
        if path.startswith("/dataPortal/"):
            return self._file(unquote(path.removeprefix("/dataPortal/")))
        return self._send(404, b"not found", "text/plain")

    def _file(self, name: str) -> None:
        s = self.standin
        p = s.path_of(name)
        if p is None:
            return self._send(404, f"{name}: no such file".encode(), "text/plain")
        if s.mous_of_file(name) in s.proprietary:
            return self._send(401, b"Authentication required: this data set is proprietary", "text/plain")
        size = p.stat().st_size
        start, end = 0, size - 1
        rng = self.headers.get("Range", "")
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
        if m:
            start = int(m.group(1))
            end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/x-tar" if name.endswith(".tar") else "text/plain")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        if self.command == "HEAD":
            return
        count = end - start + 1
        cut = s.cut_always.get(name)
        if cut is None and name in s.cut_once:
            cut = s.cut_once.pop(name)
        if cut is not None:
            count = max(0, min(count, cut - start))
        self.wfile.flush()
        with open(p, "rb") as f:
            if s.throttle:
                import time

                sent, step = 0, max(int(s.throttle / 20), 1)
                while sent < count:
                    n = self.connection.sendfile(f, start + sent, min(step, count - sent))
                    if not n:
                        break
                    sent += n
                    time.sleep(n / s.throttle)
            else:
                self.connection.sendfile(f, start, count)
        if cut is not None:
            self.close_connection = True
            self.connection.shutdown(2)


def main() -> None:
    """Serve the demo's stand-in until killed, printing its URL (for benchmarks and notebooks)."""
    import argparse
    import time

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tars", default=None, help="where the tars are (default: almaview's cache)")
    ap.add_argument("--throttle", type=float, default=None, help="bytes per second per connection")
    args = ap.parse_args()
    s = start_for_demo(port=args.port, tar_dir=args.tars)
    s.throttle = args.throttle
    print(s.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        s.stop()


def start_for_demo(port: int = 0, tar_dir=None) -> StandIn:
    """Start a stand-in serving the demo delivery (built with almaview.demo.build() if needed)."""
    from almaview import demo
    from almaview.cache import cache_dir

    project = Path(demo.build(progress=False))
    tars = Path(tar_dir) if tar_dir else cache_dir("archive-standin") / demo.source_version()
    return StandIn(project, tars, port=port).start()


if __name__ == "__main__":
    main()
