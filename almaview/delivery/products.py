"""Image products classified from ALMA's file names.

Pipeline names (Cycle 5 onward)::

    member.<OUS>.<field>_<role>.spw<ids>.<cont|cube|mfs>.<stokes>[.<manual>][.tt<n>].<type>.fits[.gz]

e.g. ``member.uid___A001_X1465_X2a3a.NGC_1234_sci.spw17_19.cont.I.tt0.pbcor.fits``; older
deliveries drop the ``member.`` prefix (``uid___A001_X1465_X2a3a.NGC_1234_sci...``) or carry a
stage tag (``<OUS>.s25_0.NGC_1234_sci...``).  Manual-era names (``NGC1234.cont.image.pbcor.fits``)
are recognised as images with unknown role/spws.
"""

from __future__ import annotations

import re

from .model import ImageProduct

_ROLES = {"sci", "bp", "ph", "check", "amp", "flux", "polcal", "pol", "di", "ampcal", "phcal", "bpcal"}
_KINDS = {"cont", "cube", "mfs", "repbw", "repBW", "line"}
_STOKES = re.compile(r"^(I|Q|U|V|IQ|IU|IV|QU|IQU|IQUV|XX|YY|XY|RR|LL|XXYY|RRLL)$")
_PIPE = re.compile(
    r"^(?P<prefix>member\.)?(?P<ous>uid___A\d+_X[0-9a-zA-Z]+_X[0-9a-zA-Z]+)\."
    r"(?:s\d+_\d+\.)?"
    r"(?P<field>.+?)_(?P<role>[A-Za-z]+)\."
    r"spw(?P<spws>[0-9_]+)\."
    r"(?P<rest>.+)$"
)
_TYPES = {"pbcor", "pb", "mask", "psf", "residual", "model", "image", "sumwt", "weight", "alpha", "beta",
          "flux", "mom0", "mom8", "tt0", "tt1"}


def split_fits_name(name: str) -> tuple[str, bool] | None:
    """Strip '.fits' or '.fits.gz'; return (stem, compressed) or None if not FITS.

    Examples
    --------
    >>> split_fits_name("a.pbcor.fits.gz")
    ('a.pbcor', True)
    """
    low = name.lower()
    if low.endswith(".fits.gz"):
        return name[:-8], True
    if low.endswith(".fits") or low.endswith(".fit"):
        return name.rsplit(".", 1)[0], False
    return None


def classify_image(name: str, source: str = "", size: int | None = None) -> ImageProduct | None:
    """Classify a FITS product from its name; None when the name is not a FITS file.

    Examples
    --------
    >>> im = classify_image("member.uid___A001_X1465_X2a3a.NGC_1234_sci.spw17_19.cont.I.tt0.pbcor.fits")
    >>> im.field, im.role, im.spws, im.kind, im.stokes, im.taylor, im.image_type
    ('NGC_1234', 'sci', (17, 19), 'cont', 'I', 'tt0', 'pbcor')
    >>> classify_image("uid___A001_X1_X2.J1924-2914_bp.spw16.mfs.I.pb.fits.gz").naming
    'legacy'
    >>> classify_image("cont.dat") is None
    True
    """
    split = split_fits_name(name)
    if split is None:
        return None
    stem, compressed = split
    m = _PIPE.match(stem)
    if not m:
        # manual-era or hand-made name: guess what we can
        parts = stem.split(".")
        kind = next((p for p in parts if p in _KINDS), None)
        itype = parts[-1] if len(parts) > 1 and parts[-1] in _TYPES else None
        return ImageProduct(name=name, source=source, mous=None, field=parts[0] if len(parts) > 1 else None,
                            role=None, spws=(), kind=kind, stokes=None, image_type=itype, naming="unknown",
                            compressed=compressed, size=size)
    rest = m.group("rest").split(".")
    kind = rest[0] if rest else None
    stokes = None
    idx = 1
    if len(rest) > 1 and _STOKES.match(rest[1]):
        stokes, idx = rest[1], 2
    tail = [p for p in rest[idx:] if p != "manual"]
    taylor = next((p for p in tail if re.fullmatch(r"tt\d+", p)), None)
    tail = [p for p in tail if p != taylor]
    itype = ".".join(tail) if tail else ("image" if taylor is None else taylor)
    if taylor and not tail:
        itype = "image"
    spws = tuple(int(s) for s in m.group("spws").split("_") if s)
    role = m.group("role")
    return ImageProduct(
        name=name, source=source, mous=m.group("ous"), field=m.group("field"),
        role=role if role in _ROLES else role, spws=spws, kind=kind, stokes=stokes, image_type=itype,
        taylor=taylor, naming="member" if m.group("prefix") else "legacy", compressed=compressed, size=size,
    )
