"""Imaging benchmarks: first display and channel change of a big cube; beam prediction vs tclean niter=0.

    python benchmarks/bench_imaging.py SCRATCH_DIR [--nchan 480 --npix 2048] [--eb bench-data/alma_eb_large]

The cube (float32, written plane by plane with astropy/numpy) goes into SCRATCH_DIR, never the repo.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np


def write_cube(path: Path, npix: int, nchan: int) -> Path:
    from astropy.io import fits

    if path.exists() and path.stat().st_size >= npix * npix * nchan * 4:
        return path
    header = fits.Header()
    header.update(SIMPLE=True, BITPIX=-32, NAXIS=4, NAXIS1=npix, NAXIS2=npix, NAXIS3=nchan, NAXIS4=1)
    header.update(
        CTYPE1="RA---SIN",
        CRVAL1=248.09,
        CDELT1=-0.05 / 3600,
        CRPIX1=npix / 2 + 1,
        CUNIT1="deg",
        CTYPE2="DEC--SIN",
        CRVAL2=-24.47,
        CDELT2=0.05 / 3600,
        CRPIX2=npix / 2 + 1,
        CUNIT2="deg",
        CTYPE3="FREQ",
        CRVAL3=230.0e9,
        CDELT3=0.5e6,
        CRPIX3=1,
        CUNIT3="Hz",
        CTYPE4="STOKES",
        CRVAL4=1,
        CDELT4=1,
        CRPIX4=1,
        BUNIT="Jy/beam",
        BMAJ=0.3 / 3600,
        BMIN=0.2 / 3600,
        BPA=30.0,
        RESTFRQ=230.538e9,
        SPECSYS="LSRK",
    )
    header.tofile(path, overwrite=True)
    rng = np.random.default_rng(1)
    with open(path, "r+b") as f:
        f.seek(len(header.tostring()))
        for _ in range(nchan):
            f.write((rng.standard_normal((npix, npix), dtype=np.float32) * 1e-3).astype(">f4").tobytes())
        pad = (-f.tell()) % 2880
        f.write(b"\0" * pad)
    return path


def bench_viewer(cube: Path) -> dict:
    """First display (open_image + ImageViewer + widget(), Python side), RSS growth, channel change (median)."""
    import psutil

    import almaview as av
    from almaview.widgets.image_viewer import ImageViewer

    t0 = time.perf_counter()
    import astropy.io.fits, astropy.wcs, bokeh.plotting  # noqa: F401,E401
    import dask.array, ipywidgets, jupyter_bokeh, xarray  # noqa: F401,E401

    imports = time.perf_counter() - t0  # once per kernel; reported apart from the viewer's own time
    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    t0 = time.perf_counter()
    image = av.open_image(cube)
    opened = time.perf_counter() - t0
    viewer = ImageViewer(image)
    viewer.widget()
    first = time.perf_counter() - t0
    rss = proc.memory_info().rss - rss0
    times = []
    for c in (1, 100, 200, 300, 400, 50, 150, 250, 350, 450):
        t = time.perf_counter()
        viewer.set_channel(min(c, viewer.nchan - 1))
        times.append(time.perf_counter() - t)
    spectra = {}
    for name, region in (
        ("pixel", {"x": 1000, "y": 1000}),
        ("box_200px", {"box": (900, 900, 1099, 1099)}),
        ("circle_r50", {"circle": (1000.0, 1000.0, 50.0)}),
    ):
        t = time.perf_counter()
        viewer.spectrum(**region)
        spectra[f"spectrum_{name}_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    viewer.show_moment(0, (200, 219), 3.0)
    spectra["moment0_20_channels_s"] = round(time.perf_counter() - t, 2)
    return {
        **spectra,
        "imports_s": round(imports, 3),
        "open_image_s": round(opened, 3),
        "first_display_s": round(first, 3),
        "memory_mb": round(rss / 1e6, 1),
        "channel_change_ms": round(1e3 * float(np.median(times)), 1),
        "channel_change_max_ms": round(1e3 * float(np.max(times)), 1),
        "peak_rss_mb": round(proc.memory_info().rss / 1e6, 1),
    }


def bench_beam(ms: Path, scratch: Path) -> dict:
    """A 9-robust sweep (open_ms, uv coverage, weighting + PSF fits; wall and CPU) vs one tclean niter=0."""
    import almaview as av
    from almaview import casa
    from almaview.imaging import beam

    c0, start = time.process_time(), time.perf_counter()
    tree = av.open_ms(ms)
    t1 = time.perf_counter()
    cov = beam.uv_coverage(tree, field="IRAS16293-2422", spw="1,2,3")
    t2 = time.perf_counter()
    table = beam.sweep(cov, field="IRAS16293-2422", robust=np.linspace(-2, 2, 9), progress=False)
    t3 = time.perf_counter()
    cpu = time.process_time() - c0
    ours = t3 - start
    cell, imsize = float(table.cell_arcsec.iloc[0]), int(table.imsize.iloc[0])
    wd = scratch / "tclean"
    shutil.rmtree(wd, ignore_errors=True)
    tasks = casa.casatasks()
    t0 = time.perf_counter()
    with casa.working_directory(wd):
        tasks.tclean(
            vis=str(ms),
            field="IRAS16293-2422",
            spw="1,2,3",
            imagename="psf",
            imsize=imsize,
            cell=f"{cell}arcsec",
            specmode="mfs",
            weighting="briggs",
            robust=0.5,
            niter=0,
        )
    tclean = time.perf_counter() - t0
    shutil.rmtree(wd, ignore_errors=True)
    return {
        "predict_9_robust_s": ours,
        "open_ms_s": t1 - start,
        "uv_coverage_s": t2 - t1,
        "sweep_s": t3 - t2,
        "predict_cpu_s": cpu,
        "n_visibilities": cov.n,
        "tclean_niter0_s": tclean,
        "tclean_over_predict": tclean / ours,
        "cell": cell,
        "imsize": imsize,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("scratch", type=Path)
    ap.add_argument("--npix", type=int, default=2048)
    ap.add_argument("--nchan", type=int, default=480)
    ap.add_argument("--eb", type=Path, default=Path("bench-data/alma_eb_large"))
    ap.add_argument("--skip-beam", action="store_true")
    ap.add_argument("--skip-viewer", action="store_true")
    args = ap.parse_args(argv)
    os.environ.setdefault("ALMAVIEW_CACHE_DIR", str(args.scratch / "cache"))
    args.scratch.mkdir(parents=True, exist_ok=True)
    if not args.skip_viewer:
        cube = write_cube(args.scratch / f"cube_{args.npix}x{args.npix}x{args.nchan}.fits", args.npix, args.nchan)
        print("viewer:", bench_viewer(cube), flush=True)
    if not args.skip_beam:
        ms = next(args.eb.glob("*.ms")).resolve()
        print("beam:", bench_beam(ms, args.scratch), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
