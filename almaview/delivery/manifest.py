"""The pipeline manifest (``*pipeline_manifest.xml``): OUS, sessions, ASDMs and the products per ASDM.

Layout (local names matched case-insensitively)::

    <piperesults name="...">
      <ous name="uid___A001_X1465_X2a3a">
        <casaversion name="6.5.4.9"/> <pipeline_version name="2023.1.0.124"/> <procedure name="hifa_calimage"/>
        <session name="session_1">
          <caltables name="uid___A001_X1465_X2a3a.session_1.caltables.tgz"/>
          <asdm name="uid___A002_Xe1f219_X6d0">
            <finalflags name="uid___A002_Xe1f219_X6d0.ms.flagversions.tgz"/>
            <applycmds name="uid___A002_Xe1f219_X6d0.ms.calapply.txt"/>
          </asdm>
        </session>
        <weblog name="...weblog.tgz"/> <aquareport name="..."/> ...
      </ous>
    </piperesults>
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from ..errors import DamagedArchive


@dataclass
class Manifest:
    """What a pipeline manifest says about one run."""

    path: str
    ous: list[str] = field(default_factory=list)
    asdms: dict[str, str] = field(default_factory=dict)  #: EB uid -> session name
    casa_version: str | None = None
    pipeline_version: str | None = None
    procedure: str | None = None
    files: dict[str, list[str]] = field(default_factory=dict)  #: element name -> file names


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def parse_manifest(data: bytes | str, path: str | os.PathLike = "") -> Manifest:
    """Parse a pipeline manifest.

    Examples
    --------
    >>> m = parse_manifest('<piperesults><ous name="uid___A001_X1_X2"><casaversion name="6.5.4"/>'
    ...                    '<session name="session_1"><asdm name="uid___A002_X3_X4"/></session></ous></piperesults>')
    >>> m.ous, m.asdms, m.casa_version
    (['uid___A001_X1_X2'], {'uid___A002_X3_X4': 'session_1'}, '6.5.4')
    """
    try:
        root = ET.fromstring(data)
    except ET.ParseError as err:
        raise DamagedArchive(path, f"the pipeline manifest is not well-formed XML ({err})") from err
    m = Manifest(path=os.fspath(path))

    def walk(el: ET.Element, session: str | None) -> None:
        tag = _local(el.tag)
        name = el.attrib.get("name") or (el.text or "").strip()
        if tag == "session":
            session = name
        elif tag == "ous" and name:
            m.ous.append(name)
        elif tag == "asdm" and name:
            m.asdms[name] = session or ""
        elif tag in ("casaversion", "casa_version"):
            m.casa_version = name or None
        elif tag in ("pipeline_version", "pipelineversion"):
            m.pipeline_version = name or None
        elif tag == "procedure":
            m.procedure = name or None
        elif name and el is not root:
            m.files.setdefault(tag, []).append(name)
        for child in el:
            walk(child, session)

    walk(root, None)
    return m
