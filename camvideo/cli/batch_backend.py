"""Where a batch's jobs run: local worker processes (``camvideo.batch.local``) or a Ray
cluster's actors (``camvideo.batch.ray``). ``backend`` gives the most workers the run
can use and a function that starts a pool of N of them, printing its one line."""

from __future__ import annotations

import logging

from camvideo.cli.batch_report import say_text
from camvideo.errors import CamvideoError


def backend(run, stack):
    """(the most workers ``run`` (a ``batch_jobs.BatchRun``) can use, a function that
    starts a pool of N of them); what must be closed goes on ``stack``."""
    return _ray(run, stack) if run.args.ray else _local(run)


def _ray(run, stack):
    from camvideo.batch.job import JobOptions
    from camvideo.batch.ray import RayPool, actor_count
    from camvideo.batch.ray_session import RaySession
    from camvideo.runtime.signals import Aborted

    args, cpus, gpus = run.args, run.cpus, run.gpus
    try:  # a stop signal while Ray starts: Aborted, what it started shut down
        session = stack.enter_context(RaySession(args.ray))
    except Aborted as exc:
        exc.where = "while starting Ray"
        raise
    threads = max(1, int(cpus))
    options = JobOptions(threads=threads, workers=args.workers or (None if threads >= 2 else 1), **run.common)
    most = actor_count(session.resources(), 1 << 16, cpus, gpus, args.jobs)

    def start_ray(actors: int):
        say_text(f"camvideo: Ray at {args.ray} (ready in {session.start_s:.1f} s): {actors} actor"
                 f"{'s' * (actors != 1)} ({cpus:g} CPUs" + (f", {gpus:g} GPUs" if gpus else "") + " each)")
        return RayPool(session, options, actors, cpus_per_job=cpus, gpus_per_job=gpus)
    return most, start_ray


def _local(run):
    from camvideo.batch.job import JobOptions
    from camvideo.batch.local import MAX_JOBS, LocalPool, auto_jobs, threads_per_job

    args = run.args
    level = logging.getLogger().getEffectiveLevel()
    if args.jobs is not None and args.jobs > MAX_JOBS:
        raise CamvideoError(f"--jobs must be at most {MAX_JOBS}, got {args.jobs}")
    most = args.jobs or auto_jobs(MAX_JOBS, args.device)

    def start_local(jobs: int):
        threads = threads_per_job(jobs)
        say_text(f"camvideo: {jobs} worker process{'es' * (jobs != 1)} ({threads} torch "
                 f"thread{'s' * (threads != 1)} each)")
        options = JobOptions(threads=threads, workers=args.workers or (None if threads >= 2 else 1), **run.common)
        # the workers' warnings come back in the results: they print errors only, unless -v
        return LocalPool(options, jobs, log_level=level if level < logging.WARNING else logging.ERROR)
    return most, start_local
