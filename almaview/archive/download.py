"""``fetch``: download the archive's files into a folder ``open_delivery`` reads as it is.

Each file goes to ``<name>.part`` first, continues with an HTTP ``Range``
request when a ``.part`` is already there (a cut transfer, a Ctrl-C, a killed
process), is checked against the archive's size and only then renamed to its
final name (atomically).  A file already complete is skipped, so running the
same fetch again resumes it.  The rename is not preceded by an fsync: a killed
process or Ctrl-C cannot leave a wrong-size file under the final name (the
bytes are in the page cache), only a crash of the machine itself could, and
an fsync per file costs ~15 % of a fast transfer.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import (
    AuthenticationRequired,
    Cancelled,
    NotEnoughDisk,
    TransferIncomplete,
    UnknownIdentifier,
)
from ..sizes import free_bytes, human_size
from .client import client, resolve_url, uid_form, unreachable
from .listing import files

KINDS = ("readme", "auxiliary", "product", "raw", "documentation")
CHUNK = 4 << 20  #: bytes per read; read1 returns what arrived, up to this
#: How many times a cut transfer is resumed (with a Range request) before TransferIncomplete.
RETRIES = 2


@dataclass
class _Job:
    name: str
    url: str
    size: int | None
    final: Path
    mous: str
    project: str | None

    @property
    def part(self) -> Path:
        return self.final.with_name(self.final.name + ".part")


def select(
    table: pd.DataFrame, what: Iterable[str] = ("readme", "auxiliary", "product"), ebs: Iterable[str] | None = None
) -> pd.DataFrame:
    """The rows of a :func:`files` table that :func:`fetch` downloads for ``what`` and ``ebs``.

    Examples
    --------
    >>> t = pd.DataFrame({"name": ["a_auxiliary.tar", "p_uid___A002_X1_X2.asdm.sdm.tar"], "kind": ["auxiliary", "raw"],
    ...                   "eb": [None, "uid___A002_X1_X2"], "within": [None, None]})
    >>> select(t, what=("auxiliary",)).name.tolist()
    ['a_auxiliary.tar']
    """
    what = (what,) if isinstance(what, str) else tuple(what)
    bad = [w for w in what if w not in KINDS]
    if bad:
        raise ValueError(f"what= takes {', '.join(KINDS)}; got {', '.join(map(repr, bad))}")
    keep = table[table["within"].isna() & table["kind"].isin(what)]
    if ebs:
        wanted = {uid_form(e, url=False) for e in ebs}
        unknown = wanted - set(table["eb"].dropna())
        if unknown:
            raise UnknownIdentifier(
                ", ".join(sorted(unknown)),
                "is not an execution block of this listing (its EBs: "
                f"{', '.join(sorted(set(table['eb'].dropna()))) or 'none'})",
            )
        keep = keep[(keep["kind"] != "raw") | keep["eb"].isin(wanted)]
    return keep.drop_duplicates("name")


def fetch(
    ident: str,
    *,
    what: Iterable[str] = ("readme", "auxiliary", "product"),
    ebs: Iterable[str] | None = None,
    dest: str | os.PathLike | None = None,
    archive_url: str | None = None,
    parallel: int = 2,
    progress: bool = True,
    stop: threading.Event | None = None,
    listing: pd.DataFrame | None = None,
) -> Path:
    """Download a project's, member OUS's or EB's files from the archive; return the folder.

    ``what`` picks the parts (readme, auxiliary, product, raw, documentation);
    raw ASDM tars come only when ``what`` has "raw" (all EBs, or ``ebs=[...]``).
    ``dest`` defaults to ``./<project code>/``; ``almaview.open_delivery(folder)``
    reads it as it is (the archive's tar layout).  Before the first byte the
    total is checked against the free disk space (:class:`NotEnoughDisk`).
    Files are written as ``<name>.part``, resumed with a ``Range`` request,
    checked against the archive's size and renamed when complete; complete
    files are skipped.  ``parallel`` files are fetched at once.  Setting
    ``stop`` (a ``threading.Event``) stops at the next megabyte and raises
    :class:`~almaview.errors.Cancelled`; Ctrl-C stops the same way and raises
    KeyboardInterrupt.  Either way the ``.part`` files are kept for a resume.  ``listing`` reuses a :func:`files` table instead of asking again.

    Examples
    --------
    >>> from almaview import archive
    >>> folder = archive.fetch("2017.1.01185.S", what=("readme", "auxiliary"))   # doctest: +SKIP
    >>> import almaview as av; print(av.open_delivery(folder).status())          # doctest: +SKIP
    """
    url = resolve_url(archive_url)
    table = listing if listing is not None else files(ident, archive_url=url)
    rows = select(table, what, ebs)
    projects = [p for p in table["project"].dropna().unique()]
    project = projects[0] if projects else None
    folder = Path(dest) if dest is not None else Path.cwd() / (project or uid_form(str(ident), url=False))
    jobs = [
        _Job(r.name, r.url, None if pd.isna(r.size) else int(r.size), folder / r.name, r.mous, r.project)
        for r in rows.itertuples()
    ]
    todo = [j for j in jobs if not (j.final.is_file() and j.size is not None and j.final.stat().st_size == j.size)]
    have = {j.name: (j.part.stat().st_size if j.part.is_file() else 0) for j in todo}
    need = sum(max((j.size or 0) - have[j.name], 0) for j in todo)
    free = free_bytes(folder)
    if need > free:
        raise NotEnoughDisk(
            folder,
            f"the {len(todo)} file(s) to fetch need {need} bytes ({human_size(need)}) but only "
            f"{free} bytes ({human_size(free)}) are free there: free some space or choose "
            "another dest=",
        )
    if not todo:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    stop = stop or threading.Event()
    alma = client(url)
    from tqdm.auto import tqdm

    total = sum(j.size or 0 for j in todo)
    with tqdm(
        total=total,
        initial=sum(have.values()),
        unit="B",
        unit_scale=True,
        unit_divisor=1000,
        desc=f"fetch {project or ident}",
        disable=not progress,
    ) as overall:
        lock = threading.Lock()
        local = threading.local()

        def session():
            s = getattr(local, "session", None)
            if s is None:
                import requests

                s = requests.Session()
                for source in (alma._session, getattr(getattr(alma, "auth", None), "_session", None)):
                    if source is not None:  # a login's cookies/headers (astroquery keeps them on its sessions)
                        s.headers.update(source.headers)
                        s.cookies.update(source.cookies)
                local.session = s
            return s

        def run(i_job):
            i, job = i_job
            with tqdm(
                total=job.size,
                initial=have[job.name],
                unit="B",
                unit_scale=True,
                unit_divisor=1000,
                desc=job.name[-40:],
                leave=False,
                position=i % max(parallel, 1) + 1,
                disable=not progress,
            ) as bar:

                def step(n: int) -> None:
                    bar.update(n)
                    with lock:
                        overall.update(n)

                _transfer(session(), job, step, stop, url)

        pool = ThreadPoolExecutor(max_workers=max(int(parallel), 1), thread_name_prefix="almaview-fetch")
        try:
            futures = [pool.submit(run, ij) for ij in enumerate(todo)]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for f in futures:
                if f.done() and f.exception() is not None:
                    stop.set()
                    raise f.exception()
            if stop.is_set():
                raise Cancelled(folder, "fetch was stopped; the .part files are kept: fetch again to resume")
        except BaseException:
            stop.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return folder


def _release_date(job: _Job, url: str) -> str:
    try:
        alma = client(url)
        t = alma.query_tap(
            f"select max(obs_release_date) as release from ivoa.obscore where member_ous_uid='{uid_form(job.mous)}'"
        ).to_table()
        value = str(t[0][0]).removeprefix("b'").rstrip("'")
        return value[:10] if value and value not in ("--", "None") else ""
    except Exception:  # the release date only adds to the message; never hide the 401 behind another error
        return ""


def _transfer(session, job: _Job, step, stop: threading.Event, base_url: str) -> None:
    import requests
    import urllib3

    expected = job.size
    last_error = ""
    for _attempt in range(RETRIES + 1):
        have = job.part.stat().st_size if job.part.is_file() else 0
        if expected is not None and have > expected:
            job.part.unlink()  # longer than the archive's file: it cannot be resumed
            have = 0
        if expected is not None and have == expected:
            break
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with session.get(job.url, headers=headers, stream=True, timeout=(15, 120)) as r:
                if r.status_code in (401, 403):
                    when = _release_date(job, base_url)
                    raise AuthenticationRequired(
                        job.name,
                        f"the archive answered {r.status_code} "
                        f"({'unauthorised' if r.status_code == 401 else 'forbidden'}) for "
                        f"{job.url}: project {job.project or '?'} ({job.mous}) is proprietary"
                        + (f" until {when}" if when else "")
                        + "; log in with almaview.archive.login('<your ALMA username>') "
                        "as its PI or a delegee",
                    )
                if r.status_code == 404:
                    raise UnknownIdentifier(
                        job.name,
                        f"the archive has no file at {job.url} (HTTP 404); the listing "
                        "may be stale: list the files again",
                    )
                if r.status_code == 416 and have:
                    break  # nothing left to send: the size check below decides
                if r.status_code >= 400:
                    raise unreachable(base_url, f"downloading {job.name}", f"HTTP {r.status_code}")
                if have and r.status_code != 206:
                    have = 0  # the server ignored the Range: start again
                if expected is None:
                    crange = r.headers.get("Content-Range", "")
                    length = r.headers.get("Content-Length")
                    if "/" in crange and crange.rsplit("/", 1)[1].isdigit():
                        expected = int(crange.rsplit("/", 1)[1])
                    elif length is not None and length.isdigit():
                        expected = have + int(length)
                with open(job.part, "ab" if have else "wb") as f:
                    if not have:
                        f.truncate(0)
                    raw_read = getattr(r.raw, "read1", None) or r.raw.read  # read1: what arrived, kept if cut next

                    def read() -> bytes:
                        try:
                            return raw_read(CHUNK)
                        except (urllib3.exceptions.HTTPError, OSError) as err:  # the connection, not the disk
                            raise requests.ConnectionError(err) from err

                    while chunk := read():
                        if stop.is_set():
                            raise Cancelled(
                                job.final, "fetch was stopped; the .part file is kept: fetch again to resume"
                            )
                        f.write(chunk)
                        step(len(chunk))
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as err:
            last_error = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
            if not job.part.exists() and _attempt == RETRIES:
                raise unreachable(base_url, f"downloading {job.name}", last_error) from err
            continue
        got = job.part.stat().st_size
        if expected is None or got == expected:
            break
    got = job.part.stat().st_size if job.part.is_file() else 0
    if expected is not None and got != expected:
        raise TransferIncomplete(
            job.final,
            f"the transfer from {job.url} stopped at {got} of {expected} bytes "
            f"({human_size(got)} of {human_size(expected)})"
            + (f" ({last_error})" if last_error else "")
            + f"; {job.part.name} is kept: fetch again to resume from there",
        )
    os.replace(job.part, job.final)
