"""Costs of the delivery layer's defences, as ratios against bare standard-library baselines in the same process.

    python benchmarks/bench_hostile.py SCRATCH_DIR [--caltables 16000] [--weblog-files 2000]

* listing an archive of N caltables: ``tarball.list_members`` (validating every member, symlink chains
  resolved, gzip read to its end for the CRC) vs ``tarfile.open(...).getmembers()``;
* opening a package holding that archive (``open_delivery``, listing index cached);
* extracting a weblog-like tgz into the cache (validated, data filter, atomic rename) vs a bare
  ``TarFile.extractall(filter="data")`` into a plain directory;
* parsing a 10 MB README / cont.dat / calapply.txt vs splitting the same text into stripped lines.

Times are CPU seconds (``time.process_time``; the machine may be shared).  Everything is written
under SCRATCH_DIR, never into the repository.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import tarfile
import time
from pathlib import Path


def cpu(fn):
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def caltables_package(base: Path, n: int) -> tuple[Path, Path]:
    member = (
        base / "2019.1.01234.S" / "science_goal.uid___A001_X1_X1" / "group.uid___A001_X1_X2" / "member.uid___A001_X1_X3"
    )
    (member / "calibration").mkdir(parents=True, exist_ok=True)
    (member / "README").write_text("Project code: 2019.1.01234.S\n")
    tgz = member / "calibration" / f"uid___A002_X1_X1.ms.caltables{n}.tgz"
    if not tgz.exists():
        with tarfile.open(tgz, "w:gz", compresslevel=1) as tf:
            for i in range(n):
                for f in ("table.dat", "table.f0"):
                    ti = tarfile.TarInfo(f"uid___A002_X1_X1.ms.hifa_timegaincal.s{i}_1.gpcal.tbl/{f}")
                    ti.size = 4
                    tf.addfile(ti, io.BytesIO(b"abcd"))
    return base / "2019.1.01234.S", tgz


def weblog_tgz(base: Path, n: int) -> Path:
    tgz = base / f"weblog{n}.tgz"
    if not tgz.exists():
        with tarfile.open(tgz, "w:gz", compresslevel=1) as tf:
            for i in range(n):
                data = (b"<html><body>stage %d</body></html>\n" % i) * 200
                ti = tarfile.TarInfo(f"pipeline-1/html/stage{i // 50}/page{i}.html")
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    return tgz


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scratch", type=Path)
    ap.add_argument("--caltables", type=int, default=16000)
    ap.add_argument("--weblog-files", type=int, default=2000)
    args = ap.parse_args()
    scratch = args.scratch.resolve()
    scratch.mkdir(parents=True, exist_ok=True)
    cache = scratch / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    os.environ["ALMAVIEW_CACHE_DIR"] = str(cache)

    import almaview as av
    from almaview.delivery import tarball
    from almaview.delivery.auxfiles import parse_cont_dat
    from almaview.delivery.calapply import parse_calapply
    from almaview.delivery.readme import parse_readme

    out: dict[str, dict] = {}
    project, tgz = caltables_package(scratch / "pkg", args.caltables)

    def bare_list():
        with tarfile.open(tgz) as tf:
            return tf.getmembers()

    base_t, _ = cpu(bare_list)
    ours_t, members = cpu(lambda: tarball.list_members(tgz))
    out["list caltables archive"] = {"n": len(members), "baseline_s": base_t, "almaview_s": ours_t}
    open_t, d = cpu(lambda: av.open_delivery(project, read_ms=False))
    out["open_delivery (index cached)"] = {"n": len(d.ebs[0].caltables), "baseline_s": base_t, "almaview_s": open_t}

    web = weblog_tgz(scratch, args.weblog_files)
    plain = scratch / "plain-extract"
    shutil.rmtree(plain, ignore_errors=True)

    def bare():
        with tarfile.open(web) as tf:
            tf.extractall(plain, filter="data")

    base_t, _ = cpu(bare)
    ours_t, _ = cpu(lambda: tarball.extract_archive(web))
    out["extract weblog"] = {"n": args.weblog_files, "baseline_s": base_t, "almaview_s": ours_t}

    ten = 10_000_000
    texts = {
        "README": (
            "Project code: 2019.1.01234.S\nPI name: A. Person\nCOMMENTS FROM REDUCER\n---------\n"
            "Achieved rms: 1 mJy\nfree text\n"
        ),
        "cont.dat": "SpectralWindow: 17\n230.1~230.5GHz LSRK\n",
        "calapply.txt": "applycal(vis='a.ms', gaintable=['x.tsyscal.tbl'], spwmap=[[0,1]])\n",
    }
    parsers = {"README": parse_readme, "cont.dat": parse_cont_dat, "calapply.txt": parse_calapply}
    for name, unit in texts.items():
        text = (unit * (ten // len(unit) + 1))[:ten]
        base_t, _ = cpu(lambda text=text: [line.strip() for line in text.splitlines()])
        ours_t, _ = cpu(lambda text=text, parse=parsers[name]: parse(text))
        out[f"parse 10 MB {name}"] = {"n": ten, "baseline_s": base_t, "almaview_s": ours_t}

    print(f"{'measure':34s} {'n':>9s} {'baseline s':>11s} {'almaview s':>11s} {'ratio':>7s}")
    for k, v in out.items():
        v["ratio"] = v["almaview_s"] / v["baseline_s"] if v["baseline_s"] else float("nan")
        print(f"{k:34s} {v['n']:9d} {v['baseline_s']:11.3f} {v['almaview_s']:11.3f} {v['ratio']:7.2f}")
    (scratch / "bench_hostile.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
