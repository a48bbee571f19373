"""ALMA delivery packages: ``open_delivery(path) -> Delivery`` (metadata only, never writes into the package).

Layout recognised (an untarred QA2 package; names from the ALMA archive)::

    <project>/                                  e.g. 2019.1.01234.S (matches NNNN.N.NNNNN.X)
      science_goal.uid___A001_X<hex>_X<hex>/
        group.uid___A001_X<hex>_X<hex>/
          member.uid___A001_X<hex>_X<hex>/
            README | member.<OUS>.README.txt      README, any of the three ALMA layouts (see readme.py)
            raw/<EB>.asdm.sdm/ASDM.xml ...        raw ASDMs (a directory without ASDM.xml = half-extracted)
            calibrated/<EB>.ms.split.cal | <EB>.ms | <EB>_targets.ms | <EB>_targets_line.ms
            calibrated/working/...                (CASA tables are recognised by table.dat)
            calibration/<EB>.ms.calapply.txt       one applycal(...) line per intent
            calibration/<OUS>.session_<n>.caltables.tgz   members <EB>.ms.<task>.s<N>_<M>....<type>.tbl/table.dat
            calibration/<EB>.ms.flagversions.tgz, <EB>.flagtemplate.txt, <EB>.flagtsystemplate.txt
            calibration/<OUS>.<recipe>.auxproducts.tgz    cont.dat, flux.csv, antennapos.csv (or loose files)
            calibration/<OUS>.pipeline_manifest.xml
            calibration/<EB>.ms.tsys, .bandpass, ... (manual era: loose tables or <EB>.calibration.tgz)
            product/member.<OUS>.<field>_<sci|bp|ph|check>.spw<ids>.<cont|cube|mfs>.I[.tt0].<pbcor|pb|mask|...>.fits[.gz]
            qa/<OUS>.<recipe>.weblog.tgz           pipeline-<timestamp>/html/{index,t1-4}.html, stage<N>/...
            qa/<OUS>.qa2_report.pdf|html, *qa0_report*, <OUS>.pipeline_aquareport.xml
            script/member.<OUS>.scriptForPI.py, <OUS>.<recipe>.casa_piperestorescript.py,
                   <EB>.ms.scriptForCalibration.py, scriptForImaging.py
            log/casa-<date>.log, <OUS>.<recipe>.casa_commands.log, <OUS>.<recipe>.casa_pipescript.py

Or a directory of the archive's tars, read in place: ``<project>_<OUS>_001_of_001.tar``,
``<project>_<OUS>_auxiliary.tar``, ``<project>_<EB>.asdm.sdm.tar`` (each holding the tree
above under ``<project>/``), and ``member.<OUS>.README.txt.tar``.  Any other file is listed
in ``MemberOUS.unknown_files`` (never an error).

Examples
--------
>>> import almaview as av
>>> d = av.open_delivery("2019.1.01234.S")       # doctest: +SKIP
>>> print(d.status())                             # doctest: +SKIP
"""

from __future__ import annotations

from .._lazy import lazy_attributes

__all__ = ["open_delivery"]

__getattr__, __dir__ = lazy_attributes(__name__, {"open_delivery": ".package"})
