"""The astroquery client for one archive mirror, identifiers, and archive errors in almaview's words."""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator

from ..errors import ArchiveUnreachable, UnknownIdentifier

#: The environment variable naming the archive mirror (a base URL such as ``https://almascience.eso.org``).
ENV_VAR = "ALMAVIEW_ARCHIVE_URL"
#: The mirrors to suggest when one does not answer (astroquery's own list).
MIRRORS = (
    "https://almascience.org",
    "https://almascience.eso.org",
    "https://almascience.nrao.edu",
    "https://almascience.nao.ac.jp",
)

PROJECT_RE = re.compile(r"^\d{4}\.[A-Z0-9]\.\d{5}\.[A-Z]{1,4}$")
_UID_RE = re.compile(r"^uid(?:://|___)(A\d{3})[/_](X[0-9a-zA-Z]+)[/_](X[0-9a-zA-Z]+)$")

_clients: dict[str, object] = {}
_lock = threading.Lock()


def resolve_url(archive_url: str | None = None) -> str:
    """The archive base URL to use: ``archive_url``, else ``$ALMAVIEW_ARCHIVE_URL``, else astroquery's default.

    Examples
    --------
    >>> resolve_url("https://almascience.eso.org/")
    'https://almascience.eso.org'
    """
    url = archive_url or os.environ.get(ENV_VAR) or None
    if url is None:
        from astroquery.alma import conf

        default = conf.archive_url
        url = default[0] if isinstance(default, (list, tuple)) else str(default)
    return url.rstrip("/")


def client(archive_url: str | None = None):
    """The ``astroquery.alma.AlmaClass`` for a mirror (one per URL and process, so a login carries over).

    Examples
    --------
    >>> client("https://almascience.eso.org").archive_url
    'https://almascience.eso.org'
    """
    url = resolve_url(archive_url)
    with _lock:
        alma = _clients.get(url)
        if alma is None:
            from astroquery.alma import AlmaClass

            alma = AlmaClass()
            alma.archive_url = url
            alma.TIMEOUT = 60
            _clients[url] = alma
    return alma


def login(
    username: str, *, archive_url: str | None = None, store_password: bool = False, reenter_password: bool = False
) -> None:
    """Log in to the ALMA archive for proprietary data (astroquery's login; the password comes from keyring or a prompt).

    The login is kept by the client of that mirror for the rest of the
    session: :func:`files` and :func:`fetch` use it.

    Examples
    --------
    >>> from almaview import archive
    >>> archive.login("aastronomer")        # doctest: +SKIP
    """
    from astroquery.exceptions import LoginError

    from ..errors import AuthenticationRequired

    alma = client(archive_url)
    with translate(resolve_url(archive_url), "logging in"):
        try:
            alma.login(username, store_password=store_password, reenter_password=reenter_password)
        except LoginError as err:
            raise AuthenticationRequired(
                username,
                f"the ALMA archive refused the login ({_short(err)}): check the "
                "username (your ALMA Science Portal account) and password",
            ) from err


def uid_form(uid: str, *, url: bool = True) -> str:
    """Write an ALMA uid as ``uid://A001/X1/X2`` (``url=True``) or ``uid___A001_X1_X2``.

    Examples
    --------
    >>> uid_form("uid___A001_X12a3_Xe9")
    'uid://A001/X12a3/Xe9'
    >>> uid_form("uid://A001/X12a3/Xe9", url=False)
    'uid___A001_X12a3_Xe9'
    """
    m = _UID_RE.match(uid.strip())
    if m is None:
        raise UnknownIdentifier(uid, "is not an ALMA uid (expected uid://A001/X12a3/Xe9 or uid___A001_X12a3_Xe9)")
    return ("uid://{}/{}/{}" if url else "uid___{}_{}_{}").format(*m.groups())


def classify(ident: str) -> str:
    """Say what an identifier is: 'project', 'mous' (an OUS uid, A001) or 'eb' (an execution block, A002).

    Examples
    --------
    >>> classify("2017.1.01185.S"), classify("uid://A001/X12a3/Xe9"), classify("uid___A002_Xd28a9e_X71b8")
    ('project', 'mous', 'eb')
    """
    ident = str(ident).strip()
    if PROJECT_RE.match(ident):
        return "project"
    m = _UID_RE.match(ident)
    if m is None:
        raise UnknownIdentifier(
            ident,
            "is neither a project code (2017.1.01185.S) nor an ALMA uid "
            "(uid://A001/X12a3/Xe9 for a member OUS, uid://A002/... for an EB)",
        )
    return "mous" if m.group(1) == "A001" else "eb"


def _other_mirrors(url: str) -> str:
    others = [m for m in MIRRORS if m.rstrip("/") != url.rstrip("/")]
    return (
        f"try another mirror, e.g. archive_url={others[1 if len(others) > 1 else 0]!r} "
        f"(or set {ENV_VAR}); mirrors: {', '.join(MIRRORS)}"
    )


def unreachable(url: str, doing: str, err: BaseException | str) -> ArchiveUnreachable:
    """The typed error for an archive that does not answer.

    Examples
    --------
    >>> str(unreachable("https://almascience.eso.org", "querying TAP", "timed out"))[:60]
    "'https://almascience.eso.org': the ALMA archive did not answ"
    """
    return ArchiveUnreachable(
        url,
        f"the ALMA archive did not answer while {doing} ({err}); the network or this "
        f"mirror may be down: {_other_mirrors(url)}",
    )


@contextlib.contextmanager
def translate(url: str, doing: str) -> Iterator[None]:
    """Turn the network errors of requests/pyvo/astroquery into :class:`ArchiveUnreachable`.

    Examples
    --------
    >>> with translate("https://almascience.eso.org", "listing files"):
    ...     pass
    """
    import requests
    from pyvo.dal.exceptions import DALAccessError, DALServiceError

    try:
        yield
    except (requests.ConnectionError, requests.Timeout) as err:
        raise unreachable(url, doing, _short(err)) from err
    except requests.HTTPError as err:
        status = getattr(err.response, "status_code", None)
        raise unreachable(url, doing, f"HTTP {status}") from err
    except DALAccessError as err:  # pyvo: DALServiceError (HTTP), DALFormatError (wraps a connection error too)
        cause = getattr(err, "cause", None)
        code = getattr(err, "code", None) if isinstance(err, DALServiceError) else None
        if code is not None and 400 <= int(code) < 500 and int(code) not in (408, 429):
            raise UnknownIdentifier(
                url, f"the archive refused the request while {doing} (HTTP {code}: {_short(err)})"
            ) from err
        raise unreachable(url, doing, _short(cause or err)) from err


def _short(err: BaseException | str) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:200]
