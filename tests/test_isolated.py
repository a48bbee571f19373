"""CASA jobs in child processes: run_isolated's failure names the function and its last words, and a stopped
job leaves no process behind, the jobs it started included; a background CasaJob outlives an interrupt of another
cell but not a kernel restart."""

from __future__ import annotations

import contextlib
import os
import signal
import textwrap
import threading
import time

import pytest

from almaview import casa
from almaview.errors import AlmaviewError

PROBE = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path

    def nap(path, seconds):
        Path(path).write_text(f"{os.getpid()} {time.time()}")
        time.sleep(seconds)
        Path(path + ".done").write_text(str(time.time()))

    def nested(path, seconds):
        # a job that runs a job of its own, as the demo's child runs the EB builds
        from almaview import casa
        Path(path + ".parent").write_text(str(os.getpid()))
        casa.run_isolated("isolated_probe:nap", path, seconds)

    def fail():
        print("reading uid___A002_X1_X2.ms", file=sys.stderr)
        raise SystemExit("no SPECTRAL_WINDOW table in uid___A002_X1_X2.ms")
    """
)


@pytest.fixture
def probe(tmp_path, monkeypatch):
    (tmp_path / "isolated_probe.py").write_text(PROBE)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return tmp_path


def _wait_for(path, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead: it only waits for its parent to read its status
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:  # reaped in between
        return False


def test_a_failed_job_names_the_function_and_its_last_words(probe):
    with pytest.raises(AlmaviewError) as err:
        casa.run_isolated("isolated_probe:fail")
    message = str(err.value)
    assert "isolated_probe:fail failed (exit code 1)" in message
    assert "reading uid___A002_X1_X2.ms" in message and "no SPECTRAL_WINDOW table" in message


def test_a_stopped_job_leaves_no_process_behind_not_even_its_own_jobs(probe):
    # Ctrl-C (a SIGINT to the process, as a terminal or a notebook's interrupt sends) while run_isolated waits,
    # once the job's own job runs; the relay threads leave it to the waiting thread
    def interrupt_when_the_inner_job_runs():
        _wait_for(probe / "inner")
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_when_the_inner_job_runs, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        casa.run_isolated("isolated_probe:nested", str(probe / "inner"), 60.0)
    parent = int((probe / "inner.parent").read_text())
    inner = int((probe / "inner").read_text().split()[0])
    deadline = time.monotonic() + 10
    while (_alive(parent) or _alive(inner)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(parent) and not _alive(inner)
    assert not (probe / "inner.done").exists()


@contextlib.contextmanager
def _kernel(probe):
    """A kernel as JupyterLab starts one (its own process group), in ``probe``; shut down at the end."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", env=dict(os.environ), cwd=str(probe))
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _run_nested_job(kc, probe) -> tuple[str, list[int]]:
    """A cell that runs a job that runs a job: its message id and the two jobs' pids once both run."""
    inner = probe / "inner"
    msg_id = kc.execute(f"from almaview import casa\ncasa.run_isolated('isolated_probe:nested', {str(inner)!r}, 60.0)")
    return msg_id, [int(_wait_for(probe / "inner.parent")), int(_wait_for(inner).split()[0])]


def _interrupt(km, kc, msg_id) -> dict:
    """Press "interrupt the kernel" while the cell ``msg_id`` runs; the cell's execute reply."""
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=30)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=30)
    return reply["content"]


def _all_gone(pids, timeout=10.0) -> bool:
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(_alive(p) for p in pids)


def test_a_notebook_interrupt_stops_the_job_and_its_jobs(probe):
    # the user's path in JupyterLab: a cell runs the job, the user presses "interrupt the kernel"
    with _kernel(probe) as (km, kc):
        msg_id, pids = _run_nested_job(kc, probe)
        reply = _interrupt(km, kc, msg_id)
        assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", reply
        assert _all_gone(pids)
        assert not (probe / "inner.done").exists()


def test_a_kernel_restart_stops_the_job_and_its_jobs(probe):
    # "restart the kernel" kills the kernel's process group: the jobs must be in it, not in a session of their own
    with _kernel(probe) as (km, kc):
        _, pids = _run_nested_job(kc, probe)
        km.restart_kernel(now=True)
        assert _all_gone(pids)
        assert not (probe / "inner.done").exists()


def test_a_background_job_outlives_an_interrupt_but_not_a_kernel_restart(probe):
    # CasaJob (a re-imaging tclean started from a widget) runs on while the user interrupts another cell, and is
    # gone once its kernel is restarted
    with _kernel(probe) as (km, kc):
        script = "import os, time; open('pid', 'w').write(str(os.getpid())); time.sleep(60); open('DONE', 'w')"
        (probe / "job").mkdir()
        kc.execute_interactive(
            f"from almaview import casa\njob = casa.CasaJob({script!r}, {{}}, {str(probe / 'job')!r})"
        )
        pid = int(_wait_for(probe / "job" / "pid"))
        msg_id = kc.execute("import time; time.sleep(30)")
        time.sleep(0.5)
        assert _interrupt(km, kc, msg_id)["ename"] == "KeyboardInterrupt"
        assert _alive(pid)  # the interrupt was for the other cell
        km.restart_kernel(now=True)
        assert _all_gone([pid], timeout=10)
        assert not (probe / "job" / "DONE").exists()
