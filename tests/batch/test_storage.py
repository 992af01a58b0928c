"""An archive in object storage, for real: an S3-compatible server (moto's server
mode) started on 127.0.0.1 by the test and stopped by its PID; the command line in
real processes, reading its inputs from the bucket and writing its outputs there."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_helpers import Running, camvideo, check_complete, env, make_archive

pytest.importorskip("s3fs")
pytest.importorskip("moto")

CLIPS = {"a.mp4": (8, (64, 48), 30), "sub/b.mkv": (10, (80, 60), 25), "long.mp4": (400, (64, 48), 30)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class S3Server:
    """moto's S3 server on 127.0.0.1; its environment for the clients (the standard AWS variables)."""

    def __init__(self, auth: bool = False) -> None:
        self.port = _free_port()
        extra = {"INITIAL_NO_AUTH_ACTION_COUNT": "0"} if auth else {}
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, **extra))
        self.env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing-secret",
                    "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.port}", "AWS_DEFAULT_REGION": "us-east-1"}
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.1)

    def fs(self):
        import s3fs

        return s3fs.S3FileSystem(key=self.env["AWS_ACCESS_KEY_ID"], secret=self.env["AWS_SECRET_ACCESS_KEY"],
                                 endpoint_url=self.env["AWS_ENDPOINT_URL"], skip_instance_cache=True)

    def stop(self) -> None:
        os.kill(self.proc.pid, signal.SIGTERM)
        self.proc.wait(30)


@pytest.fixture(scope="module")
def s3():
    server = S3Server()
    yield server
    server.stop()


def _run(s3, *args, timeout: float = 300):
    return camvideo(*args, "--jobs", "1", "--no-progress", env=env(**s3.env), timeout=timeout)


def _bucket(s3, name: str, folder: Path) -> None:
    fs = s3.fs()
    fs.mkdir(name)
    fs.put(str(folder) + "/", f"{name}/in/", recursive=True)


def _records(s3, url: str) -> list[dict]:
    return [json.loads(line) for line in s3.fs().cat_file(url).decode().splitlines()]


def test_an_archive_in_a_bucket_gives_the_outputs_of_a_run_on_disk_and_resumes(s3, tmp_path):
    clips = dict(CLIPS, **{"long.mp4": (40, (64, 48), 30)})  # nothing killed here: long.mp4 need not be long
    make_archive(tmp_path / "in", clips, corrupt=None)
    assert _run(s3, tmp_path / "in", "--output-dir", tmp_path / "disk").returncode == 0
    _bucket(s3, "archive-one", tmp_path / "in")
    first = _run(s3, "s3://archive-one/in", "--output-dir", "s3://archive-one/out")
    assert first.returncode == 0, first.stderr
    fs = s3.fs()
    got = tmp_path / "got"
    fs.get("archive-one/out/", str(got) + "/", recursive=True)
    for rel, (frames, _, _) in clips.items():
        stem = rel.rsplit(".", 1)[0]
        check_complete(tmp_path / "in" / rel, got / f"{stem}_cam.mkv", got / f"{stem}.jsonl", frames)
        assert (got / f"{stem}.jsonl").read_bytes() == (tmp_path / "disk" / f"{stem}.jsonl").read_bytes()
    assert sorted(p.relative_to(got).as_posix() for p in got.rglob("*") if p.is_file()) == sorted(
        ["camvideo-run.jsonl", "a_cam.mkv", "a.jsonl", "long_cam.mkv", "long.jsonl", "sub/b_cam.mkv", "sub/b.jsonl"])
    records = _records(s3, "archive-one/out/camvideo-run.jsonl")
    assert sorted(r["rel"] for r in records if r["status"] == "done") == sorted(CLIPS)
    assert all(r["source"].startswith("s3://archive-one/in/") and r["outputs"][0].startswith("s3://") for r in records)
    # a rerun skips everything, without torch in the driver
    code = ("import sys, atexit\natexit.register(lambda: print('torch' in sys.modules))\n"
            "from camvideo.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    again = subprocess.run([sys.executable, "-c", code, "process", "s3://archive-one/in", "--output-dir",
                            "s3://archive-one/out", "--no-progress"], capture_output=True, text=True,
                           env=env(**s3.env), timeout=120)
    assert again.returncode == 0 and "3 complete from an earlier run" in again.stderr, again.stderr
    assert again.stdout.strip().splitlines()[-1] == "False"
    assert not fs.exists("archive-one/out/.camvideo-run.lock") and not fs.exists("archive-one/out/.camvideo-journal")
    statuses = [r["status"] for r in _records(s3, "archive-one/out/camvideo-run.jsonl")]
    assert statuses == ["done"] * 3 + ["skipped"] * 3  # compacted when the rerun began, then its skips


def test_a_killed_run_into_a_bucket_is_finished_by_its_rerun(s3, tmp_path):
    """Local inputs, the outputs in a bucket; the driver and its worker killed while the
    long file runs: the finished files' lines survive (the journal), the lock of the
    dead run is taken over, and the rerun redoes only the long file."""
    make_archive(tmp_path / "in", CLIPS, corrupt=None)
    s3.fs().mkdir("archive-two")
    run = Running(tmp_path / "in", "--output-dir", "s3://archive-two/out", "--jobs", "1", extra_env=s3.env)
    try:
        worker = int(run.wait_for(r"started long\.mp4 \(worker [^ ]+:(\d+)\)").group(1))
        os.kill(run.proc.pid, signal.SIGKILL)
        os.kill(worker, signal.SIGKILL)
        run.finish()
    finally:
        run.kill()
    fs = s3.fs()
    assert fs.exists("archive-two/out/.camvideo-run.lock")  # left behind by the killed run
    assert not fs.exists("archive-two/out/long_cam.mkv")  # never a partial object under a final key
    journal = [json.loads(fs.cat_file(n)) for n in fs.find("archive-two/out/.camvideo-journal")]
    finished = {r["rel"] for r in journal if r["status"] == "done"}
    assert finished == {"a.mp4"}, run.stderr  # the files run in plan order: a.mp4 was done before long.mp4 began
    rerun = _run(s3, tmp_path / "in", "--output-dir", "s3://archive-two/out")
    assert rerun.returncode == 0, rerun.stderr
    assert "(1 complete from an earlier run" in rerun.stderr, rerun.stderr
    assert "done long.mp4" in rerun.stderr and not any(f"done {rel}" in rerun.stderr for rel in finished)
    got = tmp_path / "got"
    fs.get("archive-two/out/", str(got) + "/", recursive=True)
    for rel, (frames, _, _) in CLIPS.items():
        stem = rel.rsplit(".", 1)[0]
        check_complete(tmp_path / "in" / rel, got / f"{stem}_cam.mkv", got / f"{stem}.jsonl", frames)


def test_a_run_into_a_bucket_in_use_refuses_and_says_who_holds_it(s3, tmp_path):
    s3.fs().mkdir("archive-three")
    s3.fs().pipe_file("archive-three/out/.camvideo-run.lock", json.dumps(
        {"holder": f"{socket.gethostname()}:{os.getpid()}", "since": "then", "command": "camvideo process x"}).encode())
    make_archive(tmp_path / "in", {"a.mp4": CLIPS["a.mp4"]}, corrupt=None)
    result = _run(s3, tmp_path / "in", "--output-dir", "s3://archive-three/out")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"in use by another camvideo run ({socket.gethostname()}:{os.getpid()} since then" in result.stderr


@pytest.mark.parametrize("case", ["no bucket", "bad credentials", "no s3fs"])
def test_a_store_that_cannot_be_used_is_one_line_and_exit_2(s3, tmp_path, case):
    make_archive(tmp_path / "in", {"a.mp4": CLIPS["a.mp4"]}, corrupt=None)
    args = ["process", str(tmp_path / "in"), "--output-dir", "s3://no-such-bucket/out", "--no-progress"]
    server = S3Server(auth=True) if case == "bad credentials" else s3
    try:
        code = "import sys\nfrom camvideo.cli import main\nsys.exit(main(sys.argv[1:]))\n"
        if case == "no s3fs":
            code = "import sys\nsys.modules['s3fs'] = None\n" + code
        if case == "bad credentials":
            args[3] = "s3://some-bucket/out"
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                                env=env(**server.env), timeout=120)
    finally:
        if server is not s3:
            server.stop()
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    expected = {"no bucket": "no such bucket", "bad credentials": "access denied", "no s3fs": "pip install s3fs"}
    assert expected[case] in lines[0] and "testing-secret" not in result.stderr


@pytest.mark.slow
@pytest.mark.xdist_group("ray")  # starts a Ray instance: one Ray test at a time (tests/conftest.py)
def test_an_archive_in_a_bucket_on_ray(s3, tmp_path):
    pytest.importorskip("ray")
    make_archive(tmp_path / "in", CLIPS, corrupt=None)
    assert _run(s3, tmp_path / "in", "--output-dir", tmp_path / "disk").returncode == 0
    _bucket(s3, "archive-ray", tmp_path / "in")
    args = ["s3://archive-ray/in", "--output-dir", "s3://archive-ray/out", "--ray", "local", "--cpus-per-job", "1"]
    result = camvideo(*args, "--no-progress", env=env(**s3.env), timeout=600)
    assert result.returncode == 0, result.stderr
    got = tmp_path / "got"
    s3.fs().get("archive-ray/out/", str(got) + "/", recursive=True)
    for rel, (frames, _, _) in CLIPS.items():
        stem = rel.rsplit(".", 1)[0]
        check_complete(tmp_path / "in" / rel, got / f"{stem}_cam.mkv", got / f"{stem}.jsonl", frames)
        disk = [json.loads(line) for line in (tmp_path / "disk" / f"{stem}.jsonl").read_text().splitlines()]
        ours = [json.loads(line) for line in (got / f"{stem}.jsonl").read_text().splitlines()]
        assert [d["frame"] for d in ours] == [d["frame"] for d in disk]
    again = camvideo(*args, "--no-progress", env=env(**s3.env), timeout=600)
    assert again.returncode == 0 and "3 complete from an earlier run" in again.stderr, again.stderr



def test_a_prefix_leaves_camvideo_s_own_recordings_out_as_a_folder_walk_does(s3, tmp_path, monkeypatch):
    """A second run over a prefix that holds a first run's output prefix analysed its
    recordings again (``out/a_cam.mkv`` as an input: ``a_cam_cam.mkv``); on disk the
    walk leaves them out with a note. A pattern, or one named, is analysed."""
    import av
    from clips import make_clip

    from camvideo.batch import storage
    from camvideo.errors import InputError
    from camvideo.video.recorder import RECORDING_TAG

    make_clip(tmp_path / "a.mp4", frames=2, size=(32, 24))
    make_clip(tmp_path / "front_cam.mkv", frames=2, size=(32, 24))  # a user's camera, not camvideo's
    with av.open(str(tmp_path / "front_cam.mkv")) as src, av.open(str(tmp_path / "a_cam.mkv"), "w") as out:
        out.metadata[RECORDING_TAG[0]] = RECORDING_TAG[1]
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    fs = s3.fs()
    fs.mkdir("own-recordings")
    for name, key in (("a.mp4", "in/a.mp4"), ("front_cam.mkv", "in/front_cam.mkv"), ("a_cam.mkv", "in/out/a_cam.mkv")):
        fs.put(str(tmp_path / name), f"own-recordings/{key}")
    for key, value in s3.env.items():
        monkeypatch.setenv(key, value)
    plan = storage.make_plan(["s3://own-recordings/in"], "s3://own-recordings/out2", recording=True,
                             export_format="jsonl")
    assert sorted(job.rel for job in plan.jobs) == ["a.mp4", "front_cam.mkv"]
    assert plan.notes == ("s3://own-recordings/in: 1 camvideo recording not analysed again "
                          "(s3://own-recordings/in/out/a_cam.mkv: its labels are burned in); "
                          "give one by name to analyse it anyway",)
    with pytest.raises(InputError, match="no videos there but camvideo's own recordings"):
        storage.make_plan(["s3://own-recordings/in/out"], "s3://own-recordings/out2", recording=True,
                          export_format="jsonl")
    for named, rels in (("s3://own-recordings/in/out/a_cam.mkv", ["a_cam.mkv"]),
                        ("s3://own-recordings/in/**/*.mkv", ["front_cam.mkv", "out/a_cam.mkv"])):
        plan = storage.make_plan([named], "s3://own-recordings/out2", recording=True, export_format="jsonl")
        assert sorted(job.rel for job in plan.jobs) == rels and not plan.notes
