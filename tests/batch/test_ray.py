"""``camvideo process --ray``: a real Ray cluster started by the test (``ray start
--head`` on 127.0.0.1, stopped by its PID), real videos, a Ray worker killed while
it processes a file; and an address where nothing listens."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import pytest
from batch_helpers import CORRUPT, Running, camvideo, check_complete, env, make_archive, summary, wait_lines

from camvideo.batch.ray import actor_count, actor_death
from camvideo.batch.ray_session import probe, resolve
from camvideo.cli import main
from camvideo.errors import CamvideoError

pytest.importorskip("ray")
pytestmark = pytest.mark.timeout(420)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """HOST:PORT of a 2-CPU Ray head on this machine, and the environment to reach it."""
    temp = tmp_path_factory.mktemp("r")  # short: Ray's socket paths must fit in 107 characters
    port = free_port()
    # RAY_AUTH_MODE: the same whatever ~/.ray holds (a token there turns token auth on)
    environment = env(RAY_TMPDIR=str(temp), RAY_AUTH_MODE="disabled")
    log = open(temp / "ray-start.log", "w")
    ray = Path(sys.executable).with_name("ray")
    proc = subprocess.Popen([str(ray), "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
                             "--port", str(port), "--num-cpus", "2", "--include-dashboard", "false",
                             "--disable-usage-stats"], env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while "Ray runtime started" not in (temp / "ray-start.log").read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray start failed:\n{(temp / 'ray-start.log').read_text()}")
            time.sleep(0.2)
        yield f"127.0.0.1:{port}", environment
    finally:
        proc.send_signal(signal.SIGTERM)  # stops the raylet and the GCS it started
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
        log.close()


def test_six_videos_on_a_ray_cluster_and_a_worker_killed_mid_file(tmp_path, cluster):
    address, environment = cluster
    clips = {"a.mp4": (240, (64, 48), 30), "b.mkv": (15, (96, 64), 25), "c.mov": (10, (80, 60), 15),
             "sub/d.mp4": (20, (128, 72), 24), "sub/deeper/e.mkv": (18, (48, 48), 60)}
    frames = make_archive(tmp_path / "in", clips)
    out = tmp_path / "out"
    run = Running(tmp_path / "in", "--output-dir", out, "--ray", address, "--cpus-per-job", "1",
                  extra_env={k: environment[k] for k in ("RAY_TMPDIR", "RAY_AUTH_MODE")})
    try:
        pid = int(run.wait_for(r"started a\.mp4 \(worker [^ ]+:(\d+)\)").group(1))
        wait_lines(out / "a.partial.jsonl", 5)  # the actor is mid-file
        os.kill(pid, signal.SIGKILL)
        code = run.finish(timeout=300)
    finally:
        run.kill()
    assert code == 1, run.stderr  # the corrupt file
    assert "2 actors (1 CPUs each)" in run.stderr
    records = summary(out)
    assert len(records) == 6
    by_rel = {r["rel"]: r for r in records}
    assert by_rel[CORRUPT]["status"] == "failed"
    assert by_rel[CORRUPT]["reason"].startswith("not a video that can be decoded")
    killed = by_rel["a.mp4"]  # one attempt per run, as on the local pool (issue 27 case 13)
    assert killed["status"] == "failed" and killed["attempts"] == 1 and killed["worker"].endswith(f":{pid}")
    assert killed["reason"].startswith("its Ray worker died while processing it")
    assert "may or may not" not in killed["reason"] and not killed["reason"].endswith(" e)")  # (was cut mid-word)
    for rel, count in frames.items():  # complete, and nothing written twice
        if rel == "a.mp4":
            continue
        stem = out / Path(rel).with_suffix("")
        check_complete(tmp_path / "in" / rel, stem.with_name(stem.name + "_cam.mkv"),
                       stem.with_name(stem.name + ".jsonl"), count)
        assert by_rel[rel]["status"] == "done" and by_rel[rel]["frames"] == count
    assert not (out / "a_cam.mkv").exists()
    assert not list(out.glob(".*.camvideo-lock"))  # the dead actor's locks: removed by the driver


def _one_long_file_on(cluster, tmp_path, out) -> Running:
    """A driver processing one 1500-frame file on ``cluster`` into ``out``, once it has
    started it."""
    address, environment = cluster
    make_archive(tmp_path / "in", {"a.mp4": (1500, (64, 48), 30)}, corrupt=None)
    run = Running(tmp_path / "in", "--output-dir", out, "--ray", address, "--cpus-per-job", "1",
                  extra_env={k: environment[k] for k in ("RAY_TMPDIR", "RAY_AUTH_MODE")})
    try:
        run.wait_for(r"started a\.mp4")
    except BaseException:
        run.kill()
        raise
    return run


@pytest.mark.slow
def test_sigterm_to_the_driver_mid_file_stops_cleanly_without_rays_crash_dump(tmp_path, cluster):
    """Ray's C++ failure signal handler in the driver took SIGTERM as a crash: six lines of
    "*** SIGTERM received at time=... PC: @ 0x... (unknown)" before camvideo's clean stop."""
    out = tmp_path / "out"
    run = _one_long_file_on(cluster, tmp_path, out)
    try:
        wait_lines(out / "a.partial.jsonl", 5)  # the actor is mid-file
        run.proc.send_signal(signal.SIGTERM)
        code = run.finish(timeout=120)
    finally:
        run.kill()
    assert code == 143, run.stderr
    assert "SIGTERM received" not in run.stderr and "PC: @" not in run.stderr, run.stderr
    assert "interrupted a.mp4" in run.stderr and summary(out)[0]["status"] == "interrupted"


@pytest.mark.slow
def test_an_aborted_ray_batch_leaves_no_lock_file_of_its_busy_actor(tmp_path, cluster):
    """A second signal aborts the driver while an actor is mid-file: the driver kills that
    actor and removes the per-file lock files it held once they are free (they stayed,
    stale, for the next run to take over); the outputs stay as their .partial files."""
    out = tmp_path / "out"
    run = _one_long_file_on(cluster, tmp_path, out)
    try:
        wait_lines(out / "a.partial.jsonl", 5)  # mid-file: the actor holds the file's locks
        assert list(out.glob(".*.camvideo-lock"))
        run.proc.send_signal(signal.SIGTERM)  # two signals at once: the actor has no time to finish
        run.proc.send_signal(signal.SIGHUP)
        code = run.finish(timeout=120)
    finally:
        run.kill()
    assert code in (128 + signal.SIGHUP, 128 + signal.SIGTERM), run.stderr
    assert "again: aborting" in run.stderr and "Traceback" not in run.stderr
    assert not list(out.rglob("*camvideo-lock")), run.stderr
    assert {p.name for p in out.rglob("*.partial.*")} == {"a_cam.partial.mkv", "a.partial.jsonl"}


def test_a_lost_actor_is_said_in_a_few_words_without_its_id():
    """Ray's text for an actor killed mid-file, as the summary had it: its id, Ray's
    "may or may not have been executed", and cut at 200 characters mid-word."""
    import ray.exceptions

    lost = ray.exceptions.ActorUnavailableError("The actor is temporarily unavailable: RpcError: RPC error: "
                                                "recvmsg:Connection reset by peer rpc_code: 14", b"\xa1" * 16)
    assert actor_death(lost) == ("its process stopped answering: RpcError: RPC error: recvmsg:Connection reset by "
                                 "peer rpc_code: 14")
    assert actor_death(ray.exceptions.ActorDiedError()) == "The actor died unexpectedly before finishing this task."
    long = actor_death(RuntimeError("The actor " + "ab" * 16 + " said " + "word " * 60))
    assert long.startswith("The actor said word") and long.endswith("word...") and len(long) <= 163


def test_an_address_where_no_cluster_listens_is_a_clear_error_within_seconds(tmp_path, capsys):
    make_archive(tmp_path / "in", {"a.mp4": (4, (64, 48), 30)}, corrupt=None)
    port = free_port()  # nothing listens there now
    began = time.monotonic()
    code = main(["process", str(tmp_path / "in"), "--output-dir", str(tmp_path / "out"),
                 "--ray", f"127.0.0.1:{port}"])
    took = time.monotonic() - began
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"--ray 127.0.0.1:{port}: no Ray cluster answers there" in err and "ray start --head" in err
    assert took < 10, took  # the probe gives up after 3 s; Ray alone would retry for minutes


def test_actors_fill_the_cluster_at_the_resources_of_one_job():
    cluster = {"CPU": 16.0, "GPU": 2.0}
    assert actor_count(cluster, 100, 2.0, 0.0) == 8
    assert actor_count(cluster, 100, 1.0, 0.25) == 8  # 2 GPUs / 0.25
    assert actor_count(cluster, 3, 1.0, 0.0) == 3  # never more than the files
    assert actor_count(cluster, 100, 2.0, 0.0, jobs=5) == 5
    with pytest.raises(CamvideoError, match="the cluster has 2 GPUs"):
        actor_count(cluster, 10, 1.0, 3.0)
    with pytest.raises(CamvideoError, match="the cluster has 16 CPUs"):
        actor_count(cluster, 10, 32.0, 0.0)


def test_addresses_auto_and_bad_ones(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "10.1.2.3:6379")
    assert resolve("auto") == "10.1.2.3:6379" and resolve("h:1") == "h:1"
    with pytest.raises(CamvideoError, match="not an address"):
        probe("nowhere")


@pytest.mark.slow
def test_ray_local_starts_an_instance_for_the_run(tmp_path, tmp_path_factory):
    frames = make_archive(tmp_path / "in", {"a.mp4": (8, (64, 48), 30), "b.mkv": (6, (80, 60), 25)}, corrupt=None)
    out = tmp_path / "out"
    temp = tmp_path_factory.mktemp("r")  # short, as in the cluster fixture
    result = camvideo(tmp_path / "in", "--output-dir", out, "--ray", "local", "--cpus-per-job", "1",
                      env=env(RAY_TMPDIR=str(temp), RAY_AUTH_MODE="disabled"), timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Ray at local (ready in" in result.stderr
    for rel, count in frames.items():
        stem = out / Path(rel).with_suffix("")
        check_complete(tmp_path / "in" / rel, stem.with_name(stem.name + "_cam.mkv"),
                       stem.with_name(stem.name + ".jsonl"), count)
    assert [r["status"] for r in summary(out)] == ["done", "done"]


def test_a_run_that_cannot_start_leaves_the_output_folder_as_it_found_it(tmp_path, monkeypatch, capsys):
    """Was: an empty summary, the jobs' empty folders and the lock file left behind."""
    from camvideo.batch import ray_session

    make_archive(tmp_path / "in", {"a.mp4": (4, (64, 48), 30), "sub/deep/b.mp4": (4, (64, 48), 30)}, corrupt=None)
    code = main(["process", str(tmp_path / "in"), "--output-dir", str(tmp_path / "new"), "--ray", f"127.0.0.1:{free_port()}"])
    assert code == 2 and not (tmp_path / "new").exists()

    def refused(*args, **kwargs):
        raise CamvideoError("--ray h:1: cannot connect (refused)")

    monkeypatch.setattr(ray_session, "probe", lambda address: None)
    monkeypatch.setattr(ray_session, "RaySession", refused)  # after the folder, the lock and the summary
    (tmp_path / "old" / "sub").mkdir(parents=True)
    (tmp_path / "old" / "keep.txt").write_text("mine")
    for out in ("new", "old"):
        code = main(["process", str(tmp_path / "in"), "--output-dir", str(tmp_path / out), "--ray", "h:1"])
        assert code == 2 and "cannot connect (refused)" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
    assert sorted(p.name for p in (tmp_path / "old").rglob("*")) == ["keep.txt", "sub"]


class _SlowRay:
    """``ray.init`` that takes ``init_s``; records the thread of each call."""

    def __init__(self, init_s: float) -> None:
        self.init_s, self.calls = init_s, []

    def init(self, **_kwargs) -> None:
        self.calls.append(("init", threading.current_thread().name))
        time.sleep(self.init_s)

    def shutdown(self) -> None:
        self.calls.append(("shutdown", threading.current_thread().name))


class _SignalledRay(_SlowRay):
    """``ray.init`` that, once the caller waits (``begin``), sends SIGTERM to this process and
    goes on until the caller has taken it (``proceed``)."""

    def __init__(self) -> None:
        super().__init__(0.0)
        self.begin, self.proceed = threading.Event(), threading.Event()

    def init(self, **_kwargs) -> None:
        self.calls.append(("init", threading.current_thread().name))
        self.begin.wait(30)
        os.kill(os.getpid(), signal.SIGTERM)
        self.proceed.wait(30)


class _Tells(threading.Event):
    """An Event that says how it is waited for: a poll (``_InitThread.wait``'s 0.1 s) sets
    ``ray.begin``, a longer wait (the owner's ``STOP_WAIT_S`` once the signal came) ``ray.proceed``."""

    def __init__(self, ray: _SignalledRay) -> None:
        super().__init__()
        self.ray = ray

    def wait(self, timeout=None):
        (self.ray.begin if timeout is not None and timeout < 1 else self.ray.proceed).set()
        return super().wait(timeout)


def test_a_stop_signal_while_ray_starts_raises_here_and_the_starting_thread_shuts_ray_down(monkeypatch):
    """``ray.init`` in the main thread replaced the SIGTERM handler and a signal could be lost
    inside Ray; now it raises in camvideo's wait, and the thread that started Ray (whose end
    would end Ray's processes) shuts it down once ``ray.init`` returned. No timings: ray.init
    sends the signal itself once the caller waits, and returns only once the caller has taken it."""
    from camvideo.batch import ray_session
    from camvideo.runtime.signals import Aborted, StopSignals

    ray = _SignalledRay()
    events = types.SimpleNamespace(Event=lambda: _Tells(ray), Thread=threading.Thread)
    monkeypatch.setattr(ray_session, "threading", events)  # _InitThread's own events only
    with StopSignals(), pytest.raises(Aborted) as caught:
        init = ray_session._InitThread(ray, {}, owner=True).start()
        try:
            init.wait(60)
        except Aborted:
            assert init.done.is_set()  # an owner waits for ray.init before it raises
            init.stop()
            raise
    assert caught.value.signum == signal.SIGTERM
    assert ray.calls == [("init", "camvideo-ray-init"), ("shutdown", "camvideo-ray-init")]


def test_a_connect_that_does_not_end_is_left_behind_at_the_timeout():
    from camvideo.batch.ray_session import _InitThread

    ray, gate = _SignalledRay(), threading.Event()
    ray.init = lambda **_kwargs: (ray.calls.append(("init", threading.current_thread().name)), gate.wait(30))
    init = _InitThread(ray, {}, owner=False).start()
    assert not init.wait(0.2) and init.error is None  # left to the process's end (a daemon thread)
    gate.set()  # (ray.init ends only once the wait has given up)
    init.thread.join(30)
    assert ray.calls == [("init", "camvideo-ray-init")]  # a connect's thread shuts nothing down
