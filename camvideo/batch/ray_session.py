"""Connecting to a Ray cluster (``--ray ADDRESS | auto | local``): ``RaySession``.

Connecting to an address where nothing listens would make Ray retry for minutes;
``RaySession`` first opens a TCP connection to it and fails within
``PROBE_TIMEOUT_S`` with a message that says what to check. A cluster with token
authentication (on by default since Ray 2.60) that refuses this process's token
would make ``ray.init`` retry for ~20 s: ``check_token`` asks its GCS once first
and fails at once with a line that says which variables to set. ``--ray local``
starts a Ray instance for the run on this machine, listening on 127.0.0.1 only,
and stops it at the end, with a token of its own for the run (no ~/.ray/auth_token
written). ``ray.init`` runs in a thread of its own while this one waits at most
``CONNECT_TIMEOUT_S`` (a cluster) or ``LOCAL_START_TIMEOUT_S`` (local), answering the
stop signals: Ray's connect blocks in C++ (minutes when the GCS does not answer)
where no Python signal handler runs, and ``ray.init`` in the main thread replaces
the SIGTERM handler with one of its own.
A 127.0.0.1 address of a head that listens on 127.0.0.1 only is connected to the
way it listens (see ``_match_head``). Ray's log lines below errors stay off the
terminal unless ``-v``. The actors and the pool are ``camvideo.batch.ray``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import socket
import threading
import time

from camvideo.errors import CamvideoError, describe, reason
from camvideo.runtime.signals import Aborted

PROBE_TIMEOUT_S = 3.0
CONNECT_TIMEOUT_S = 60.0  # ray.init to a running cluster (~2.6 s measured; Ray alone: up to 20 x 60 s)
LOCAL_START_TIMEOUT_S = 120.0  # ray.init of --ray local (~1-4 s measured)
STOP_WAIT_S = 30.0  # how long a stop signal waits for a half-done ray.init before shutting it down
HEAD_CHECK_S = 1.0  # how often the driver checks that the head's GCS still answers (a TCP connect)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise CamvideoError("--ray needs Ray: pip install 'camvideo[ray]'") from None
    _no_crash_dump_on_stop()
    return ray


FAILURE_HANDLER_ENV = "RAY_DISABLE_FAILURE_SIGNAL_HANDLER"


def _no_crash_dump_on_stop() -> None:
    """The driver without Ray's C++ failure signal handler (abseil's), which takes
    SIGTERM too and prints a crash's stack dump ("*** SIGTERM received at time=... PC:
    @ 0x... (unknown)", six lines) before camvideo's own clean stop. Read by ``ray.init``
    in this process only (not in the environment: the workers keep it for a real crash);
    ``RAY_DISABLE_FAILURE_SIGNAL_HANDLER=0`` set by the user keeps it here too."""
    if os.environ.get(FAILURE_HANDLER_ENV) is not None:
        return
    with contextlib.suppress(ImportError, AttributeError):
        from ray._private import ray_constants

        ray_constants.RAY_DISABLE_FAILURE_SIGNAL_HANDLER = True


def _host_port(address: str) -> tuple[str, int] | None:
    text = address.split("://", 1)[-1].rstrip("/")
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def probe(address: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """``CamvideoError`` unless something accepts a TCP connection at ``address`` (host:port)."""
    target = _host_port(address)
    if target is None:
        raise CamvideoError(f"--ray {address}: not an address; give HOST:PORT of the cluster's head "
                            "(its `ray start --head --port`), auto (RAY_ADDRESS) or local")
    try:
        with socket.create_connection(target, timeout=timeout):
            pass
    except OSError as exc:
        raise CamvideoError(f"--ray {address}: no Ray cluster answers there ({reason(exc)}); start one with "
                            "`ray start --head --port PORT` on the head node, or check the address "
                            "(--ray local runs one on this machine for the run)") from None


TOKEN_HELP = ("RAY_AUTH_MODE=token and the cluster's token in RAY_AUTH_TOKEN, in a file named by "
              "RAY_AUTH_TOKEN_PATH, or in ~/.ray/auth_token (`ray get-auth-token` on the head prints it)")


@contextlib.contextmanager
def _quiet_stderr():
    """File descriptor 2 to /dev/null for the block (C++ libraries write there directly)."""
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def check_token(address: str) -> None:
    """``CamvideoError`` at once if the GCS at ``address`` (host:port, answering TCP)
    refuses the token ``ray.init`` would send, or none (Ray would retry ~20 s)."""
    try:
        from ray._private.authentication.authentication_token_setup import ensure_token_if_auth_enabled
        from ray._raylet import AuthenticationMode, InnerGcsClient, get_authentication_mode
        from ray.exceptions import AuthenticationError
    except ImportError:  # another Ray: its own connect tells
        return
    try:
        ensure_token_if_auth_enabled(None, create_token_if_missing=False)  # else Ray aborts the process
    except AuthenticationError:
        raise CamvideoError(f"--ray {address}: RAY_AUTH_MODE=token but no token was found; set {TOKEN_HELP}") from None
    try:
        with _quiet_stderr():  # Ray's C++ logs each refusal there: the error line says it once
            # the cluster ID, asked with the token ray.init would send (GcsClient waits 40 s on a non-Ray port)
            InnerGcsClient.standalone(address, None, int(PROBE_TIMEOUT_S * 1000))
    except AuthenticationError:
        sent = "refused the token given here" if get_authentication_mode() == AuthenticationMode.TOKEN else \
            "no token is sent from here"
        raise CamvideoError(f"--ray {address}: the cluster uses token authentication and {sent}; "
                            f"set {TOKEN_HELP}") from None
    except Exception:  # noqa: BLE001 - not about the token: ray.init's own error tells
        return


def resolve(address: str) -> str:
    """``auto`` -> ``RAY_ADDRESS``, else the cluster ``ray start`` last started on this
    machine; anything else as given."""
    if address != "auto":
        return address
    env = os.environ.get("RAY_ADDRESS", "").strip()
    if env:
        return env
    _import_ray()
    try:
        from ray._private.services import canonicalize_bootstrap_address

        found = canonicalize_bootstrap_address("auto")
    except Exception:  # noqa: BLE001 - Ray's own look-up failed: nothing found
        found = None
    if not found:
        raise CamvideoError("--ray auto: RAY_ADDRESS is not set and no `ray start` cluster was found on this "
                            "machine; give --ray HOST:PORT, or --ray local")
    return found


LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def _local_only(ray) -> None:
    """Make the Ray instance ``--ray local`` starts listen on 127.0.0.1 only.

    Ray (2.60) turns a node address of 127.0.0.1 into the host's own and binds its GCS,
    raylet and workers to every interface, unless its "single machine" switch is off
    (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, what it does on macOS and Windows): set in
    the environment its processes inherit, and in the constant this process read at
    import. Checked by reading the listening sockets of the processes started
    (tests/batch/test_ray_faults.py)."""
    os.environ[LOCAL_ONLY_ENV] = "0"
    with contextlib.suppress(ImportError, AttributeError):
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


def _match_head(ray, target: str) -> None:
    """Connect to a loopback ``target`` the way its head listens.

    Ray (2.60) replaces a 127.0.0.1 address by this host's IP before connecting
    unless its single-machine switch is off; a head started with the switch off
    (as ``--ray local`` starts one) listens on 127.0.0.1 only, and Ray then retries
    the host's IP for minutes. When the host's IP does not answer at the address's
    port, the switch goes off here too (``_local_only``): the driver connects, and
    registers, on 127.0.0.1 as the head did."""
    host, port = _host_port(target) or ("", 0)
    if not _loopback(host):
        return
    try:
        from ray._private.services import get_node_ip_address

        rewritten = get_node_ip_address()
    except Exception:  # noqa: BLE001 - Ray's own look-up failed: its connect tells
        return
    if _loopback(rewritten):
        return
    try:
        with socket.create_connection((rewritten, port), timeout=1.0):
            return  # the head listens on every interface: Ray's rewrite reaches it
    except OSError:
        _local_only(ray)


def _run_token() -> None:
    """A token of this run's own for the instance ``--ray local`` starts, in the
    environment its processes inherit (Ray would write ~/.ray/auth_token and warn);
    nothing when ``RAY_AUTH_MODE``, ``RAY_AUTH_TOKEN`` or ``RAY_AUTH_TOKEN_PATH`` is set."""
    if any(os.environ.get(name) for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")):
        return
    import secrets

    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    os.environ["RAY_AUTH_MODE"] = "token"  # set, Ray does not warn that it chose it
    with contextlib.suppress(ImportError, AttributeError):
        from ray._raylet import Config

        Config.initialize("")  # Ray's config read the mode at import


def _ray_log_level() -> int:
    """ERROR for Ray's loggers, or the level ``-v`` asked for."""
    level = logging.getLogger().getEffectiveLevel()
    level = level if level < logging.WARNING else logging.ERROR
    logging.getLogger("ray").setLevel(level)
    return level


def _gcs_address(ray) -> str | None:
    try:
        return ray._private.worker.global_worker.node.gcs_address
    except AttributeError:
        return None



RAY_DISK_LIMIT = 0.95  # Ray's local_fs_capacity_threshold: above it a node creates no objects


def _full_disk_note(folder: str | None = None) -> str:
    """`` (the disk of FOLDER is N% full: Ray does not work above 95%; free some space)``
    where the disk of Ray's temporary folder (``RAY_TMPDIR``, else the system's) is over
    Ray's limit (Ray then creates no objects: its start may not end); empty otherwise."""
    import shutil
    import tempfile

    folder = folder or os.environ.get("RAY_TMPDIR") or tempfile.gettempdir()
    try:
        usage = shutil.disk_usage(folder)
    except OSError:
        return ""
    used = 1.0 - usage.free / usage.total if usage.total else 0.0
    if used <= RAY_DISK_LIMIT:
        return ""
    return (f" (the disk of {folder} is {used:.0%} full: Ray does not work above {RAY_DISK_LIMIT:.0%}; "
            "free some space)")


class _InitThread:
    """``ray.init(**kwargs)`` in a daemon thread of its own while the caller waits in
    ``wait``, where a stop signal raises (``Aborted``) in camvideo's own code: Ray's
    connect blocks in C++ where no handler runs, and ``ray.init`` in the main thread
    replaces the SIGTERM handler. With ``owner`` (``--ray local``) the thread stays until
    ``stop`` and shuts Ray down itself: Linux ends the processes ``ray.init`` started
    when the thread that started them ends (their parent-death signal). ``start`` starts
    it (a signal during the start finds the object there to stop)."""

    def __init__(self, ray, kwargs: dict, *, owner: bool) -> None:
        self.ray, self.owner = ray, owner
        self.error: BaseException | None = None
        self.done, self.release = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, args=(kwargs,), name="camvideo-ray-init", daemon=True)

    def start(self) -> _InitThread:
        self.thread.start()
        return self

    def _run(self, kwargs: dict) -> None:
        try:
            self.ray.init(**kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            self.error = exc
        finally:
            self.done.set()
        if self.owner and self.error is None:
            self.release.wait()
            with contextlib.suppress(Exception):
                self.ray.shutdown()

    def wait(self, timeout: float) -> bool:
        """Whether ``ray.init`` ended within ``timeout``. A stop signal meanwhile raises; an
        ``owner``'s first waits up to ``STOP_WAIT_S`` for it to end, so that ``stop`` can shut
        down what it started (a connect left behind dies with the process)."""
        deadline = time.monotonic() + timeout
        try:
            while not self.done.wait(0.1) and time.monotonic() <= deadline:
                pass
        except Aborted:
            if self.owner:
                self.done.wait(STOP_WAIT_S)
            raise
        return self.done.is_set()

    def stop(self, *, wait: bool = True) -> None:
        """``ray.shutdown`` on the owning thread once ``ray.init`` has returned; with ``wait``
        waited for at most ``STOP_WAIT_S``."""
        self.release.set()
        if wait and self.thread.ident is not None:
            self.thread.join(STOP_WAIT_S)


class RaySession:
    """A connection to a cluster (or a Ray instance started for the run); a context manager."""

    def __init__(self, address: str, *, num_cpus: int | None = None) -> None:
        self.address = address
        self.ray = _import_ray()
        began = time.monotonic()
        kwargs = {"logging_level": _ray_log_level()}
        if address == "local":  # a new instance, even where RAY_ADDRESS names a cluster
            _local_only(self.ray)
            _run_token()
            kwargs.update(address="local", num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False)
            self._init(address, kwargs)
        else:
            target = resolve(address)
            probe(target)
            if "://" not in target:
                check_token(target)
                _match_head(self.ray, target)
            kwargs["address"] = target
            self._connect(address, kwargs)
        self.start_s = time.monotonic() - began  # what Ray costs before the first file
        self.gcs_address = _gcs_address(self.ray) or kwargs.get("address", "")

    def _connect(self, address: str, kwargs: dict) -> None:
        """``ray.init`` to a running cluster: at most ``CONNECT_TIMEOUT_S``, Ray's retries off the terminal."""
        quiet = _quiet_stderr() if kwargs["logging_level"] >= logging.ERROR else contextlib.nullcontext()
        with quiet:  # Ray's C++ logs each retry there; the error says it once
            init = _InitThread(self.ray, kwargs, owner=False).start()
            finished, error = init.wait(CONNECT_TIMEOUT_S), init.error
        if not finished:
            raise CamvideoError(f"--ray {address}: the cluster answers but Ray could not connect within "
                                f"{CONNECT_TIMEOUT_S:.0f} s; check that its head runs and that this machine "
                                "reaches the address the head announced (`ray status` on the head)")
        if error is not None:
            raise CamvideoError(f"--ray {address}: cannot connect ({describe(error)}); a cluster with token "
                                f"authentication needs {TOKEN_HELP}") from None

    def _init(self, address: str, kwargs: dict) -> None:
        """``ray.init`` of ``--ray local`` (at most ``LOCAL_START_TIMEOUT_S``). A stop signal meanwhile is
        ``Aborted`` once what Ray started is shut down."""
        self._owner = _InitThread(self.ray, kwargs, owner=True)
        try:
            finished = self._owner.start().wait(LOCAL_START_TIMEOUT_S)
        except Aborted:
            self._owner.stop()  # half started: stop what it started
            raise
        error = self._owner.error
        if not finished:
            self._owner.stop(wait=False)  # should ray.init still return: shut down then
            raise CamvideoError(f"--ray local: Ray did not start within {LOCAL_START_TIMEOUT_S:.0f} s"
                                f"{_full_disk_note()}; run again with -v to see Ray's own log lines")
        if error is not None:
            raise CamvideoError(f"--ray {address}: cannot start Ray ({describe(error)})") from None

    def head_answers(self) -> bool:
        """Whether the head's GCS accepts a TCP connection (within ``HEAD_CHECK_S``)."""
        target = _host_port(self.gcs_address)
        if target is None:
            return True  # nothing to check against: Ray's own errors tell
        try:
            with socket.create_connection(target, timeout=HEAD_CHECK_S):
                return True
        except OSError:
            return False

    def resources(self) -> dict[str, float]:
        return dict(self.ray.cluster_resources())

    def close(self) -> None:
        if self.lost:
            return  # no shutdown: it would wait on the GCS; the process ends soon after
        if self._owner is not None:  # --ray local: the thread that started Ray stops it
            self._owner.stop()
        elif self.ray.is_initialized():
            self.ray.shutdown()

    lost = False  # set by RayPool when the head stopped answering
    _owner: _InitThread | None = None  # --ray local's thread

    def __enter__(self) -> RaySession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
