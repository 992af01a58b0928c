"""The run's lock and summary when ``--output-dir`` is a URL (``camvideo.batch.storage``).

**The lock** (``BucketLock``) is the object ``DIR/.camvideo-run.lock``, created by a
conditional write (``If-None-Match: *``: the store refuses it when the object
exists, so of two runs that start together exactly one gets it). It holds who has
it (host:pid, since when, the command) and is rewritten every ``LEASE_S / 4`` s while
the run lasts (its lease); it is deleted when the run ends. A run that finds it
stops with one line (exit 2) unless the lock is stale: not renewed for ``LEASE_S``
seconds (by this machine's clock against the store's ``LastModified``), or held by a
process of this host that no longer exists (a killed run). A stale lock is deleted
and taken with the same conditional write; two runs taking over the same stale
lock at the same instant can both succeed (the store has no conditional delete):
the lease narrows that window to a run killed at least ``LEASE_S`` s before.

**The summary** is ``DIR/camvideo-run.jsonl`` in the bucket. A store has no append, so
the run keeps a local copy (``BucketSummary``): at the start it is the bucket's summary
plus the journal a killed run left; each line of a file that ran is also written at
once as a small object of its own, ``DIR/.camvideo-journal/<run>-<n>.json`` (a killed run
loses no finished file); at the end the whole summary, compacted, is written over the
old one (one PUT: atomic) and the journal objects it holds are deleted.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time

from camvideo.batch.storage import errors, filesystem, join
from camvideo.batch.summary import SummaryWriter, timestamp
from camvideo.errors import OutputError

LEASE_S = 120.0
LOCK_NAME = ".camvideo-run.lock"
JOURNAL = ".camvideo-journal"


class BucketLock:
    """The output folder's lock in a bucket, a context manager (see the module)."""

    def __init__(self, folder: str, what: str = "", lease_s: float = LEASE_S) -> None:
        self.url = join(folder, LOCK_NAME)
        self.fs, self.key = filesystem(self.url)
        self.what, self.lease_s = what.replace("\n", " "), lease_s
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._since = timestamp()

    def _body(self) -> bytes:
        return json.dumps({"holder": f"{socket.gethostname()}:{os.getpid()}", "since": self._since,
                           "renewed": timestamp(), "command": self.what}).encode("utf-8")

    def __enter__(self) -> BucketLock:
        with errors(self.url, "cannot take the run's lock"):
            try:
                self.fs.pipe_file(self.key, self._body(), mode="create")
            except FileExistsError:
                held = self._stale_or_holder()
                if held:
                    raise OutputError(f"{self.url.rsplit('/', 1)[0]} is in use by another camvideo run ({held}); "
                                      "wait for it to end, or give another --output-dir") from None
                self.fs.rm_file(self.key)
                self.fs.pipe_file(self.key, self._body(), mode="create")
        self._renewer = threading.Thread(target=self._renew, name="camvideo-lock-lease", daemon=True)
        self._renewer.start()
        return self

    def _stale_or_holder(self) -> str:
        """"" when the lock found is stale, else who holds it (for the message)."""
        try:
            info = self.fs.info(self.key, refresh=True)
            body = json.loads(self.fs.cat_file(self.key))
        except FileNotFoundError:
            return ""  # released in between
        except ValueError:
            body = {}
        age = time.time() - info["LastModified"].timestamp() if "LastModified" in info else 0.0
        holder = str(body.get("holder", "unknown"))
        host, _, pid = holder.rpartition(":")
        if age > self.lease_s or (host == socket.gethostname() and pid.isdigit() and not _alive(int(pid))):
            return ""
        return f"{holder} since {body.get('since', '?')}, renewed {age:.0f} s ago: {body.get('command', '')}".strip()

    def _renew(self) -> None:
        while not self._stop.wait(self.lease_s / 4):
            try:
                self.fs.pipe_file(self.key, self._body())
            except Exception:  # noqa: BLE001 - a missed renewal; the next one may get through
                pass

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(30)
            self._renewer = None
            try:
                self.fs.rm_file(self.key)
            except Exception:  # noqa: BLE001 - a lock left behind goes stale with its lease
                pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class BucketSummary(SummaryWriter):
    """The summary of a run into a bucket: a local copy (``pull``) appended as on disk,
    each line of a file that ran also put as a journal object, the whole copy put over
    the bucket's summary at ``close``."""

    def __init__(self, local: str, url: str, run: str | None = None) -> None:
        super().__init__(local, run)
        self.url = url
        self.fs, self.key = filesystem(url)
        self.journal = join(url.rsplit("/", 1)[0], JOURNAL)
        self._count = 0
        self._stamp = re.sub(r"[^0-9]", "", self.run)[:17]

    def write(self, record: dict) -> None:
        super().write(record)
        if record.get("status") == "skipped":
            return  # a repeat of the line before it
        self._count += 1
        line = json.dumps({"run": self.run, **record}).encode("utf-8")
        with errors(self.url, "cannot write the run summary's journal"):
            self.fs.pipe_file(filesystem(join(self.journal, f"{self._stamp}-{self._count:08d}.json"))[1], line)

    def close(self) -> None:
        super().close()
        push(str(self.path), self.url)


def pull(url: str, local: str) -> None:
    """Write to ``local`` the bucket's summary followed by the journal lines a killed run left."""
    fs, key = filesystem(url)
    journal_fs, journal = filesystem(join(url.rsplit("/", 1)[0], JOURNAL))
    with errors(url, "cannot read the run summary"):
        data = fs.cat_file(key) if fs.exists(key) else b""
        names = sorted(journal_fs.find(journal)) if journal_fs.exists(journal) else []
        lines = [journal_fs.cat_file(name).rstrip(b"\n") for name in names]
    with open(local, "wb") as file:
        file.write(data if not data or data.endswith(b"\n") else data + b"\n")
        file.writelines(line + b"\n" for line in lines)


def push(local: str, url: str) -> None:
    """Put the local summary over the bucket's (atomic), then delete the journal it holds."""
    fs, key = filesystem(url)
    journal_fs, journal = filesystem(join(url.rsplit("/", 1)[0], JOURNAL))
    with errors(url, "cannot write the run summary"):
        fs.put_file(local, key)
        if journal_fs.exists(journal):
            journal_fs.rm(journal, recursive=True)
