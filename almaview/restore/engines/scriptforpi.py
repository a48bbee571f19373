"""The scriptForPI engine: ALMA's own ``scriptForPI.py`` run by a suitable monolithic CASA.

scriptForPI expects the delivery's layout (it runs from ``script/`` and writes
``../calibrated``). To keep the delivery untouched, the member OUS is mirrored in
the work directory: ``raw/`` holds links to the chosen ASDMs only (so only those
EBs are restored), ``calibration/`` links to the delivered files, ``script/``
copies of the scripts, and ``calibrated/`` is where scriptForPI writes. With
``in_delivery=True`` it runs in the delivery's own ``script/`` directory instead,
as ALMA documents it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ...delivery.model import Delivery, MemberOUS
    from ..casafind import CasaInstallation
    from ..plan import Command


def member_dir(member: "MemberOUS", work: Path, *, in_delivery: bool) -> Path:
    """The member OUS directory scriptForPI runs in (a mirror in the work directory, or the delivery's)."""
    return work / (member.path if in_delivery else member.uid)


def member_command(casa: "CasaInstallation", member: "MemberOUS", work: Path, *, in_delivery: bool) -> "Command":
    """The command that runs the member OUS's scriptForPI, from its ``script/`` directory.

    Examples
    --------
    >>> member_command(casa, m, Path("/work"), in_delivery=False).text()      # doctest: +SKIP
    'cd /work/uid___A001_X1_X2/script && /opt/casa-6.5.4-9-pipeline-2023.1.0.124/bin/casa --pipeline ...'
    """
    from ..plan import Command

    base = member_dir(member, work, in_delivery=in_delivery)
    script = os.path.basename(member.scripts.script_for_pi[0]) if member.scripts.script_for_pi else "scriptForPI.py"
    argv = [casa.path]
    if member.calibration_mode == "pipeline":
        argv.append("--pipeline")
    argv += ["--nogui", "--nologger", "--logfile", str(base / "casa-restore.log"), "-c", script]
    return Command(argv, str(base / "script"), f"scriptForPI of {member.uid} ({member.calibration_mode} route)")


def prepare_mirror(delivery: "Delivery", member: "MemberOUS", uids: list[str], work: Path) -> Path:
    """Mirror the member OUS into ``work/<OUS>`` (links and copies only; nothing in the delivery changes)."""
    src = Path(delivery.root) / member.path
    base = work / member.uid
    for sub in ("raw", "calibration", "script", "log", "calibrated"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    for eb in member.ebs:
        link = base / "raw" / f"{eb.uid}.asdm.sdm"
        if link.is_symlink() or link.exists():
            link.unlink() if link.is_symlink() else shutil.rmtree(link)
        if eb.uid in uids and eb.raw_asdm:
            link.symlink_to(os.path.realpath(eb.raw_asdm))
    for f in sorted((src / "calibration").iterdir()) if (src / "calibration").is_dir() else []:
        link = base / "calibration" / f.name
        if not (link.exists() or link.is_symlink()):
            link.symlink_to(os.path.realpath(f))
    for f in sorted((src / "script").iterdir()) if (src / "script").is_dir() else []:
        if f.is_file():
            shutil.copy2(f, base / "script" / f.name)
    for f in sorted(src.glob("*README*")):
        if f.is_file() and not (base / f.name).exists():
            shutil.copy2(f, base / f.name)
    return base
