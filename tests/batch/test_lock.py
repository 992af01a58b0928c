"""``OutputLock``: one run per output folder, and ``for_file``: one run per output file."""

from __future__ import annotations

import os

import pytest

from camvideo.batch.lock import LOCK_NAME, OutputLock, remove_if_free
from camvideo.errors import OutputError


def test_a_file_lock_names_its_holder_and_is_removed_when_released(tmp_path):
    out = tmp_path / "a.mkv"
    with OutputLock.for_file(out, "camvideo process x.mp4", "-o") as lock:
        assert lock.path == tmp_path / ".a.mkv.camvideo-lock"
        with pytest.raises(OutputError) as refused, OutputLock.for_file(out, "second"):
            pass
        text = str(refused.value)
        assert text.startswith(f"{out} is being written by another camvideo run (")
        assert f":{os.getpid()} since " in text and "camvideo process x.mp4" in text and text.endswith("give another -o")
        with OutputLock.for_file(tmp_path / "b.mkv"):  # another output of the same folder: free
            pass
    assert list(tmp_path.iterdir()) == []
    with OutputLock.for_file(out):  # free again
        pass


def test_a_file_lock_removed_by_its_holder_meanwhile_is_opened_again(tmp_path, monkeypatch):
    """A run that opened the lock file just before its holder removed and released it locks
    the file there now, not the removed one (which no later run would see)."""
    from camvideo.batch import lock as locks

    out = tmp_path / "a.jsonl"
    real = locks._same_file
    calls = []

    def released_meanwhile(fd, path):
        calls.append(path)
        if len(calls) == 1:
            os.unlink(path)  # as a holder's __exit__ does
        return real(fd, path)

    monkeypatch.setattr(locks, "_same_file", released_meanwhile)
    with OutputLock.for_file(out) as lock:
        assert len(calls) == 2 and lock.path.exists()


def test_the_folder_lock_refuses_a_second_run_and_goes_when_the_run_ends(tmp_path):
    with OutputLock(tmp_path, "first"):
        with pytest.raises(OutputError, match="is in use by another camvideo run .*give another --output-dir"):
            with OutputLock(tmp_path, "second"):
                pass
        assert (tmp_path / LOCK_NAME).exists()
    assert not (tmp_path / LOCK_NAME).exists()
    with pytest.raises(RuntimeError), OutputLock(tmp_path, "a run that fails"):
        raise RuntimeError("an error ends the run")
    assert list(tmp_path.iterdir()) == []


def test_a_stale_lock_file_is_taken_and_removed(tmp_path):
    (tmp_path / LOCK_NAME).write_text("host:1 since yesterday: a killed run\n")
    with OutputLock(tmp_path, "this run"):
        assert "this run" in (tmp_path / LOCK_NAME).read_text()
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_dead_holders_lock_file_is_removed_and_a_live_ones_stays(tmp_path):
    """What a batch's driver does with the lock files of a worker that died (SIGKILL, a
    Ray actor lost): removed when nobody holds the lock, left while a run holds it."""
    stale = tmp_path / ".a.mkv.camvideo-lock"
    stale.write_text("host:1 since yesterday: a killed worker\n")
    assert remove_if_free(stale) and not stale.exists()
    assert not remove_if_free(stale)  # gone already
    with OutputLock.for_file(tmp_path / "b.mkv", "a live run") as held:
        assert not remove_if_free(held.path) and "a live run" in held.path.read_text()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("file", [False, True])
def test_a_lock_never_removes_another_runs_lock_file(tmp_path, file):
    """Someone removed this run's lock file and another run made and locked its own: this
    run's end leaves that one (the other run's lock) alone."""
    make = (lambda what: OutputLock.for_file(tmp_path / "a.mkv", what)) if file else (lambda w: OutputLock(tmp_path, w))
    with make("first") as first:
        os.unlink(first.path)
        second = make("second").__enter__()
        assert "second" in second.path.read_text()
    try:
        assert second.path.exists() and "second" in second.path.read_text()
    finally:
        second.__exit__(None, None, None)
    assert not second.path.exists()


def test_an_abort_removes_the_lock_files_it_holds(tmp_path):
    """A second signal ends the process with os._exit (no __exit__ runs): the locks' files
    go first (``runtime.signals.before_abort``); a lock released before is not touched."""
    from camvideo.runtime import signals

    with OutputLock(tmp_path, "run"), OutputLock.for_file(tmp_path / "a.mkv", "run"):
        assert len(list(tmp_path.iterdir())) == 2
        signals._run_before_abort()
        assert list(tmp_path.iterdir()) == []
    assert not signals._BEFORE_ABORT


def test_an_abort_runs_its_actions_last_registered_first():
    """A batch's workers (registered after the folder's lock) are told to end before
    the folder's lock file goes: a new run cannot start while they still write."""
    from camvideo.runtime import signals

    order: list[str] = []
    takes = [signals.before_abort(lambda name=name: order.append(name)) for name in ("folder lock", "workers")]
    try:
        signals._run_before_abort()
    finally:
        for take in takes:
            take()
    assert order == ["workers", "folder lock"]
