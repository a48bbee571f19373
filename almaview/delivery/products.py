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
    r"^(?P<prefix>member\.|group\.)?(?P<ous>uid___A\d+_X[0-9a-zA-Z]+_X[0-9a-zA-Z]+)\."
    r"(?:s\d+_\d+\.)?"
    r"(?P<field>.+?)_(?P<role>[A-Za-z]+)\."
    r"spw(?P<spws>[0-9_]+)\."
    r"(?P<rest>.+)$"
)


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
    if low.endswith(".fits.fz"):
        return name[:-8], True
    if low.endswith(".fits") or low.endswith(".fit"):
        return name.rsplit(".", 1)[0], False
    return None


def split_product_name(name: str) -> tuple[str, bool, str] | None:
    """``(stem, compressed, format)`` of an image product file: FITS (``fits``), or a CASA image in a tgz (``casa``).

    Examples
    --------
    >>> split_product_name("x.cube.I.manual.mask.tgz")
    ('x.cube.I.manual.mask', True, 'casa')
    >>> split_product_name("x.cube.I.pb.fits.gz")
    ('x.cube.I.pb', True, 'fits')
    >>> split_product_name("cont.dat") is None
    True
    """
    fits = split_fits_name(name)
    if fits is not None:
        return fits[0], fits[1], "fits"
    low = name.lower()
    for suffix in (".tar.gz", ".tgz", ".tar"):
        if low.endswith(suffix):
            return name[: -len(suffix)], suffix != ".tar", "casa"
    return None


#: image types: one vocabulary (the Taylor term and compression are separate attributes)
IMAGE_TYPES = ("image", "pbcor", "pb", "mask", "residual", "model", "psf", "sumwt", "weight", "alpha", "alpha.error")
_ROLE_ALIASES = {"chk": "check", "checksource": "check", "target": "sci", "science": "sci"}
_DATATYPE_TOKENS = {"regcal", "selfcal", "contsub"}


def image_type_of(tokens: list[str]) -> tuple[str | None, str | None, dict]:
    """``(image_type, taylor, flags)`` from the tokens after an image name's kind and Stokes.

    Pipeline, manual and archive names order the tokens differently (``tt0.pbcor``,
    ``pb.tt0``, ``image.pbcor``, ``manual.B6.image.pbcor``, ``alpha.error``); the
    result uses one vocabulary (:data:`IMAGE_TYPES`). ``flags`` holds ``manual``,
    ``band``, ``single_dish`` and ``datatype`` when the tokens say so.

    Examples
    --------
    >>> image_type_of(["manual", "B6", "image", "pbcor"])
    ('pbcor', None, {'manual': True, 'band': 6})
    >>> image_type_of(["pb", "tt0"])
    ('pb', 'tt0', {})
    >>> image_type_of(["tt1", "pbcor"])
    ('pbcor', 'tt1', {})
    >>> image_type_of(["alpha", "error"])
    ('alpha.error', None, {})
    >>> image_type_of([])
    ('image', None, {})
    """
    flags: dict = {}
    rest: list[str] = []
    taylor = None
    for tok in tokens:
        low = tok.lower()
        if low == "manual":
            flags["manual"] = True
        elif re.fullmatch(r"b\d{1,2}", low):
            flags["band"] = int(low[1:])
        elif low == "sd":
            flags["single_dish"] = True
        elif low in _DATATYPE_TOKENS:
            flags["datatype"] = low
        elif re.fullmatch(r"tt\d", low):
            taylor = low
        elif re.fullmatch(r"iter\d+", low):
            continue
        else:
            rest.append(low)
    if not rest:
        return "image", taylor, flags
    if "pbcor" in rest:
        return "pbcor", taylor, flags
    joined = ".".join(rest)
    if joined in IMAGE_TYPES:
        return joined, taylor, flags
    if rest[-1] in IMAGE_TYPES:
        return rest[-1], taylor, flags
    return joined, taylor, flags


def classify_image(name: str, source: str = "", size: int | None = None) -> ImageProduct | None:
    """Classify an image product from its name; None when the name is not an image product.

    Examples
    --------
    >>> im = classify_image("member.uid___A001_X1465_X2a3a.NGC_1234_sci.spw17_19.cont.I.tt0.pbcor.fits")
    >>> im.field, im.role, im.spws, im.kind, im.stokes, im.taylor, im.image_type
    ('NGC_1234', 'sci', (17, 19), 'cont', 'I', 'tt0', 'pbcor')
    >>> classify_image("uid___A001_X1_X2.J1924-2914_bp.spw16.mfs.I.pb.fits.gz").naming
    'legacy'
    >>> m = classify_image("member.uid___A001_X12a3_Xe9.50_kms_cloud_sci.spw0_4_8_12.cube.I.manual.mask.tgz")
    >>> m.image_type, m.format, m.manual
    ('mask', 'casa', True)
    >>> classify_image("cont.dat") is None
    True
    """
    split = split_product_name(name)
    if split is None:
        return None
    stem, compressed, fmt = split
    m = _PIPE.match(stem)
    if not m:
        # manual-era or hand-made name (NGC1234.cont.image.pbcor): guess what we can
        parts = stem.split(".")
        kind_at = next((i for i, p in enumerate(parts) if p in _KINDS), None)
        tail = parts[kind_at + 1 :] if kind_at is not None else parts[1:]
        if tail and _STOKES.match(tail[0]):
            stokes, tail = tail[0], tail[1:]
        else:
            stokes = None
        itype, taylor, flags = image_type_of(tail)
        return ImageProduct(
            name=name,
            source=source,
            mous=None,
            field=parts[0] if len(parts) > 1 else None,
            role=None,
            spws=(),
            kind=parts[kind_at] if kind_at is not None else None,
            stokes=stokes,
            image_type=itype,
            taylor=taylor,
            naming="unknown",
            compressed=compressed,
            size=size,
            format=fmt,
            manual=flags.get("manual", False),
            band=flags.get("band"),
            single_dish=flags.get("single_dish", False),
        )
    rest = m.group("rest").split(".")
    kind = rest[0] if rest else None
    stokes = None
    idx = 1
    if len(rest) > 1 and _STOKES.match(rest[1]):
        stokes, idx = rest[1], 2
    itype, taylor, flags = image_type_of(rest[idx:])
    spws = tuple(int(s) for s in m.group("spws").split("_") if s)
    role = m.group("role")
    role = _ROLE_ALIASES.get(role.lower(), role)
    return ImageProduct(
        name=name,
        source=source,
        mous=m.group("ous"),
        field=m.group("field"),
        role=role,
        spws=spws,
        kind=kind,
        stokes=stokes,
        image_type=itype,
        taylor=taylor,
        naming=(m.group("prefix") or "legacy.").rstrip("."),
        compressed=compressed,
        size=size,
        format=fmt,
        manual=flags.get("manual", False),
        band=flags.get("band"),
        single_dish=flags.get("single_dish", False),
    )
