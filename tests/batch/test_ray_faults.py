"""Issue 27 on Ray: the head lost mid-run (case 9), ``--ray local`` reachable from
this machine only and a cluster with token authentication refusing a driver at once
(case 12). A real head (``ray start --head --block`` on 127.0.0.1, stopped by its PID),
real videos, the listening sockets of the processes Ray started."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_helpers import Running, camvideo, env, make_archive, summary, wait_lines
from test_ray import free_port

pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")
pytestmark = pytest.mark.timeout(300)


def start_head(temp: Path, port: int, **auth) -> subprocess.Popen:
    """``ray start --head --block`` on 127.0.0.1; ``auth``: its RAY_AUTH_* variables (default: none)."""
    log = temp / "ray-start.log"
    auth = auth or {"RAY_AUTH_MODE": "disabled"}
    proc = subprocess.Popen([str(Path(sys.executable).with_name("ray")), "start", "--head", "--block",
                             "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "2",
                             "--include-dashboard", "false", "--disable-usage-stats"],
                            env=env(RAY_TMPDIR=str(temp), **auth),
                            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 90
    while "Ray runtime started" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"ray start failed:\n{log.read_text()}")
        time.sleep(0.2)
    return proc


def stop_head(head: subprocess.Popen) -> None:
    """The head and every process of its session, by its PID (the session's leader)."""
    try:
        os.killpg(head.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    head.wait(60)


def test_the_head_lost_mid_run_gives_every_file_a_record_the_table_and_exit_2(tmp_path, tmp_path_factory):
    temp = tmp_path_factory.mktemp("r")  # short: Ray's socket paths
    clips = {"a.mp4": (600, (64, 48), 30), "b.mkv": (15, (96, 64), 25), "c.mov": (10, (80, 60), 15),
             "d.mp4": (20, (64, 48), 24), "e.mkv": (18, (48, 48), 60)}
    make_archive(tmp_path / "in", clips, corrupt=None)
    out = tmp_path / "out"
    port = free_port()
    head = start_head(temp, port)
    run = Running(tmp_path / "in", "--output-dir", out, "--ray", f"127.0.0.1:{port}", "--jobs", "1",
                  extra_env={"RAY_TMPDIR": str(temp), "RAY_AUTH_MODE": "disabled"})
    try:
        run.wait_for(r"started a\.mp4")
        wait_lines(out / "a.partial.jsonl", 5)  # the actor is mid-file, four files wait
        # the head's machine lost: `ray start` and what it started (its GCS, raylet and
        # workers, in its own session); a SIGTERM to `ray start` alone left them up at times
        os.killpg(head.pid, signal.SIGKILL)
        lost_at = time.monotonic()
        code = run.finish(timeout=120)
        took = time.monotonic() - lost_at
    finally:
        run.kill()
        stop_head(head)
    assert code == 2, run.stderr
    assert took < 55, took  # Ray alone ended the driver ~60 s after, with no table (load 25 here: ~42 s)
    assert "Traceback" not in run.stderr
    errors = [line for line in run.lines if line.startswith("camvideo: error")]
    assert len(errors) == 1 and "stopped answering" in errors[0] and "run the same command" in errors[0], run.stderr
    assert "total             5 files" in run.stdout  # the closing table printed
    by_rel = {r["rel"]: r for r in summary(out)}
    assert set(by_rel) == set(clips)
    assert by_rel["a.mp4"]["status"] == "failed" and 0 < by_rel["a.mp4"]["frames"] < 600
    for rel in set(clips) - {"a.mp4"}:  # waiting; or (a race) handed to the actor the loss had just taken
        record = by_rel[rel]
        assert record["status"] == "failed" and (record["reason"].startswith("not started: ") or (
            record["frames"] == 0 and record["reason"].endswith("stopped answering before it reported a frame"))), record
    assert sum(not r["reason"].startswith("not started: ") for r in by_rel.values()) <= 2  # a.mp4, and one at most
    assert not (out / "a_cam.mkv").exists()  # the partial is not taken for complete


def _loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


_LISTENING_CHILD = """
import json, os
import psutil
from camvideo.batch.ray_session import RaySession
with RaySession("local", num_cpus=1) as session:
    session.ray.get(session.ray.remote(lambda: os.getpid()).remote())  # a worker process too
    found = set()
    for proc in [psutil.Process(), *psutil.Process().children(recursive=True)]:
        try:
            found |= {(proc.name(), c.laddr.ip, c.laddr.port) for c in proc.net_connections(kind="inet")
                      if c.status == psutil.CONN_LISTEN}
        except psutil.Error:
            pass
    print(json.dumps(sorted(found)))
"""

def test_ray_local_listens_on_127_0_0_1_only(tmp_path_factory):
    """Ray 2.60 binds its GCS and raylet to every interface for a 127.0.0.1 node (seen
    with ``ss -ltnp``); the instance ``--ray local`` starts must not. In a process of its
    own: a connect that another test left behind in this one (by design, it dies with its
    process) held a later ``ray.init`` here past its 120 s at times on CI."""
    environment = {**os.environ, "RAY_TMPDIR": str(tmp_path_factory.mktemp("r")), "RAY_AUTH_MODE": "disabled",
                   "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1"}  # the user's "1" (every interface) is overruled
    done = subprocess.run([sys.executable, "-c", _LISTENING_CHILD], env=environment,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    sockets = [tuple(s) for s in json.loads(done.stdout.strip().splitlines()[-1])]
    names = {name for name, _, _ in sockets}
    assert {"gcs_server", "raylet"} <= names, sockets
    assert all(_loopback(ip) for _, ip, _ in sockets), sorted(sockets)


TOKEN = "camvideo-test-token-0123456789abcdef"


def test_a_cluster_with_token_auth_refuses_a_driver_without_its_token_at_once(tmp_path, tmp_path_factory):
    """Ray 2.60 alone retried for ~20 s, then "Failed to connect"; now one line naming
    the variables, exit 2, within seconds; the right token still runs."""
    temp = tmp_path_factory.mktemp("r")
    make_archive(tmp_path / "in", {"a.mp4": (6, (64, 48), 30)}, corrupt=None)
    home = tmp_path / "home"  # no ~/.ray/auth_token of the user's
    home.mkdir()
    port = free_port()
    head = start_head(temp, port, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=TOKEN, HOME=str(home))
    clean = {k: v for k, v in env(RAY_TMPDIR=str(temp), HOME=str(home)).items() if not k.startswith("RAY_AUTH")}
    drivers = {"no token": {}, "a wrong token": {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "x" * 32},
               "token mode without one": {"RAY_AUTH_MODE": "token"}, "a token without the mode": {"RAY_AUTH_TOKEN": TOKEN}}
    try:
        for what, extra in drivers.items():
            began = time.monotonic()
            run = camvideo(tmp_path / "in", "--output-dir", tmp_path / "out", "--ray", f"127.0.0.1:{port}",
                           env=dict(clean, **extra), timeout=120)
            took = time.monotonic() - began
            assert run.returncode == 2, (what, run.stderr)
            lines = run.stderr.splitlines()  # the plan's line, then the error; none of Ray's own
            errors = [line for line in lines if line.startswith("camvideo: error: ")]
            assert len(lines) == 2 and len(errors) == 1, (what, run.stderr)
            assert "token authentication" in errors[0] or "no token was found" in errors[0], (what, run.stderr)
            assert "RAY_AUTH_MODE=token" in errors[0] and "RAY_AUTH_TOKEN" in errors[0], (what, run.stderr)
            assert took < 12, (what, took)  # the CLI's own start-up included; Ray alone: ~20 s more
            assert not (tmp_path / "out" / "a_cam.mkv").exists()
        run = camvideo(tmp_path / "in", "--output-dir", tmp_path / "out", "--ray", f"127.0.0.1:{port}",
                       env=dict(clean, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=TOKEN), timeout=240)
        assert run.returncode == 0, run.stderr
        assert [r["status"] for r in summary(tmp_path / "out")] == ["done"]
    finally:
        stop_head(head)


def _ray_children(pid: int) -> list[psutil.Process]:
    try:
        return [p for p in psutil.Process(pid).children(recursive=True) if p.name() in ("gcs_server", "raylet")]
    except psutil.Error:
        return []


@pytest.mark.parametrize("when", ["importing", "ray.init"])
def test_sigterm_while_ray_local_starts_is_one_line_exit_143_and_ray_stopped(tmp_path, tmp_path_factory, when):
    """Was: exit 143 (or 15, Ray's own handler) without a word. ``ray.init``: the signal
    lands once its GCS or raylet runs, and what it started is stopped."""
    make_archive(tmp_path / "in", {"a.mp4": (6, (64, 48), 30)}, corrupt=None)
    run = Running(tmp_path / "in", "--output-dir", tmp_path / "out", "--ray", "local",
                  extra_env={"RAY_TMPDIR": str(tmp_path_factory.mktemp("r")), "RAY_AUTH_MODE": "disabled"})
    started: list[psutil.Process] = []
    try:
        run.wait_for(r"1 file -> ")
        time.sleep(0.3)  # "importing": Ray's modules load (~1 s), the instance not started
        deadline = time.monotonic() + 120
        while when == "ray.init" and not started and time.monotonic() < deadline and run.proc.poll() is None:
            started = _ray_children(run.proc.pid)
            time.sleep(0.02)
        assert when == "importing" or started, run.stderr
        run.proc.send_signal(signal.SIGTERM)
        code = run.finish(timeout=120)
    finally:
        run.kill()
    assert code == 143, run.stderr
    assert "Traceback" not in run.stderr
    last = run.lines[-1]
    assert last.startswith("camvideo: interrupted (SIGTERM) ") and last.endswith("; nothing written"), run.stderr
    if when == "ray.init":
        assert "while starting Ray" in last
        gone, alive = psutil.wait_procs(started, timeout=30)
        assert not alive, alive  # no GCS or raylet left behind
    assert not (tmp_path / "out" / "a_cam.mkv").exists()


PATCHED_DRIVER = """import sys
from camvideo.batch import ray_session
ray_session._match_head = lambda ray, target: None  # Ray's own rewrite: the host's IP, where nothing listens
ray_session.CONNECT_TIMEOUT_S = float(sys.argv.pop(1))
from camvideo.cli.parser import main
sys.exit(main(sys.argv[1:]))
"""


def _driver_env() -> dict:
    """Without the switch (an in-process ``--ray local`` of an earlier test sets it here)."""
    return {k: v for k, v in env(RAY_AUTH_MODE="disabled").items() if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"}


def _patched_driver(timeout_s: float, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", PATCHED_DRIVER, str(timeout_s), "process", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_driver_env())


def test_a_head_listening_on_127_0_0_1_only_is_reached_and_a_stuck_connect_ends_on_time_or_a_signal(
        tmp_path, tmp_path_factory):
    """A head started as ``--ray local`` starts one (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0:
    it listens on 127.0.0.1 only): Ray turned the driver's 127.0.0.1 into the host's IP
    and retried it for more than 10 minutes, deaf to SIGINT, SIGTERM exit 15 without a
    word. Now the driver connects as the head listens; Ray's connect, left to its
    rewrite, ends at the connect timeout (exit 2, one line) or at a signal (130, 143)."""
    temp = tmp_path_factory.mktemp("r")
    make_archive(tmp_path / "in", {"a.mp4": (6, (64, 48), 30)}, corrupt=None)
    port = free_port()
    head = start_head(temp, port, RAY_AUTH_MODE="disabled", RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    address = f"127.0.0.1:{port}"
    try:
        run = camvideo(tmp_path / "in", "--output-dir", tmp_path / "out", "--ray", address,
                       env=_driver_env(), timeout=180)  # the variable not set here
        assert run.returncode == 0, run.stderr
        assert [r["status"] for r in summary(tmp_path / "out")] == ["done"]
        assert "Failed to connect" not in run.stderr and "WARNING" not in run.stderr, run.stderr
        stuck = _patched_driver(4, tmp_path / "in", "--output-dir", tmp_path / "stuck", "--ray", address)
        _, err = stuck.communicate(timeout=60)
        lines = err.splitlines()
        assert stuck.returncode == 2, err
        assert len(lines) == 2 and "could not connect within 4 s" in lines[-1], err  # no line of Ray's retries
        assert not (tmp_path / "stuck").exists()  # could not start: nothing left behind
        for signum, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
            stuck = _patched_driver(120, tmp_path / "in", "--output-dir", tmp_path / "stuck", "--ray", address)
            try:
                assert "1 file -> " in stuck.stderr.readline()
                time.sleep(2)  # in ray.init, retrying the host's IP
                stuck.send_signal(signum)
                _, err = stuck.communicate(timeout=30)
            finally:
                stuck.kill()
            assert stuck.returncode == code, err
            assert err.strip() == f"camvideo: interrupted ({signum.name}) while starting Ray; nothing written", err
            assert not (tmp_path / "stuck").exists()
    finally:
        stop_head(head)


@pytest.mark.slow
def test_ray_local_writes_nothing_in_home_and_prints_no_warning(tmp_path, tmp_path_factory):
    """Ray 2.60 printed "Token authentication is enabled..." and wrote ~/.ray/auth_token
    (0644) for the instance ``--ray local`` started; now a token of the run's own."""
    make_archive(tmp_path / "in", {"a.mp4": (4, (64, 48), 30)}, corrupt=None)
    home = tmp_path / "home"
    home.mkdir()
    clean = {k: v for k, v in env(RAY_TMPDIR=str(tmp_path_factory.mktemp("r")), HOME=str(home)).items()
             if not k.startswith("RAY_AUTH")}
    run = camvideo(tmp_path / "in", "--output-dir", tmp_path / "out", "--ray", "local", env=clean, timeout=240)
    assert run.returncode == 0, run.stderr
    assert not (home / ".ray").exists()
    assert all(line.startswith("camvideo: ") for line in run.stderr.splitlines()), run.stderr
