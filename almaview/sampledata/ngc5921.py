"""The real VLA observation of NGC 5921 (casadata ``demo/NGC5921.fits``), calibrated the classic way."""

from __future__ import annotations

import os
from pathlib import Path

from tqdm.auto import tqdm

from .. import casa


def build(root: Path, *, image: bool = True, progress: bool = True):
    from . import SampleEB, _jsonable

    import casadata

    tasks = casa.casatasks()
    fits = os.path.join(casadata.datapath, "demo", "NGC5921.fits")
    ms = root / "ngc5921.ms"
    bar = tqdm(total=4 if image else 3, desc="NGC 5921 (VLA)", disable=not progress, unit="step")
    tasks.importuvfits(fitsfile=fits, vis=str(ms))
    tasks.flagdata(vis=str(ms), mode="manual", autocorr=True, flagbackup=False)
    bar.update()
    vis = str(ms)
    ct = {k: root / f"ngc5921.{k}" for k in ("bandpass", "gain", "fluxscale")}
    tasks.setjy(vis=vis, field="1331+305*", standard="Perley-Butler 2017", usescratch=True)
    tasks.bandpass(
        vis=vis,
        caltable=str(ct["bandpass"]),
        field="0",
        solint="inf",
        combine="scan",
        refant="15",
        bandtype="B",
        solnorm=True,
    )
    tasks.gaincal(
        vis=vis,
        caltable=str(ct["gain"]),
        field="0,1",
        spw="0:6~56",
        solint="inf",
        gaintype="G",
        calmode="ap",
        refant="15",
        gaintable=[str(ct["bandpass"])],
    )
    fluxes = tasks.fluxscale(
        vis=vis, caltable=str(ct["gain"]), fluxtable=str(ct["fluxscale"]), reference="1331*", transfer="1445*"
    )
    bar.update()
    tasks.applycal(
        vis=vis,
        field="0",
        gaintable=[str(ct["fluxscale"]), str(ct["bandpass"])],
        gainfield=["0", ""],
        interp=["nearest", ""],
        flagbackup=False,
    )
    tasks.applycal(
        vis=vis,
        field="1,2",
        gaintable=[str(ct["fluxscale"]), str(ct["bandpass"])],
        gainfield=["1", ""],
        interp=["linear", ""],
        flagbackup=False,
    )
    bar.update()
    images = {}
    if image:
        stem = root / "images" / "ngc5921.cube"
        tasks.tclean(
            vis=vis,
            field="2",
            spw="0:5~56",
            imagename=str(stem),
            specmode="cube",
            nchan=-1,
            imsize=128,
            cell="15arcsec",
            weighting="briggs",
            robust=0.5,
            niter=200,
            threshold="5mJy",
            usemask="user",
            mask="circle[[64pix,64pix],20pix]",
            pbcor=True,
            restfreq="1420.405752MHz",
            outframe="LSRK",
            interactive=False,
        )
        images["cube"] = Path(f"{stem}.image")
        for suffix, ext in ((".image.pbcor", "pbcor"), (".pb", "pb"), (".mask", "mask"), (".image", "image")):
            out = root / "images" / f"ngc5921.cube.{ext}.fits"
            tasks.exportfits(imagename=f"{stem}{suffix}", fitsimage=str(out), overwrite=True)
            images[f"cube_{ext}_fits"] = out
        images["cube_fits"] = images["cube_pbcor_fits"]
        bar.update()
    bar.close()
    from casacore import tables

    with tables.table(str(ms / "ANTENNA"), ack=False) as t:
        antennas = list(t.getcol("NAME"))
    with tables.table(str(ms / "SPECTRAL_WINDOW"), ack=False) as t:
        spws = {i: int(n) for i, n in enumerate(t.getcol("NUM_CHAN"))}
    with tables.table(str(ms / "FIELD"), ack=False) as t:
        names = list(t.getcol("NAME"))
    roles = [
        "CALIBRATE_FLUX#ON_SOURCE,CALIBRATE_BANDPASS#ON_SOURCE",
        "CALIBRATE_PHASE#ON_SOURCE",
        "OBSERVE_TARGET#ON_SOURCE",
    ]
    return SampleEB(
        root=root,
        ms=ms,
        caltables=ct,
        images=images,
        refant="15",
        antennas=antennas,
        spws=spws,
        fields=dict(zip(names, roles)),
        fluxscale=_jsonable(fluxes),
        eb_uid="ngc5921",
    )
