"""An RQ worker whose child process that runs the jobs (RQ's "work horse") stays for many jobs,
instead of one fork per job.

RQ forks a work horse per job, so that a crash (an engine's segfault, the OOM killer) takes
the job and not the worker. For many small documents the fork costs more than the isolation
needs: measured, a receipt's job spent about 100 ms of CPU beside Tesseract's, most of it in
forking a large process, the horse touching (and so copying) the pages it inherited, and
tearing its address space down. Here the horse stays: the worker hands it each job's ids over
a pipe and waits on the pipe for the one-byte answer, while RQ's own loop keeps the heartbeats,
the timeouts, the kills and the failure handling exactly as for a forked horse. A horse that
dies mid-job closes the pipe; the worker reaps it, RQ fails (and retries) the job, and the
next job gets a new horse. A horse leaves after ``JOBS_PER_HORSE`` jobs, so whatever memory a
job leaves behind is returned to the system regularly.

No child outlives the worker. The horse sees its pipe close only if no other process holds the
worker's end, so every other child the worker forks (RQ's scheduler, forked at start or later by
RQ's maintenance) closes those ends first. And every child asks the kernel for a SIGTERM when
the worker ends (``PR_SET_PDEATHSIG``), even by SIGKILL: the scheduler then stops as RQ stops it,
and the horse ends with its process group (the OCR programs it runs), as RQ's own kill does.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any

from rq import Queue, Worker
from rq.executions import Execution
from rq.job import Job

#: Jobs a horse takes before it leaves (and the next job forks a fresh one).
JOBS_PER_HORSE = 100
#: What the horse answers after a job: done, and done and leaving.
_DONE, _LEAVING = b"d", b"x"
#: Linux's ``prctl`` option that names the signal a process gets when its parent ends.
_PR_SET_PDEATHSIG = 1


def end_with_parent(parent: int) -> None:
    """Have the kernel send this process SIGTERM when ``parent`` ends (on Linux); if it has
    ended already, since the fork, send it now."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


@contextlib.contextmanager
def _alarm_deferred() -> Iterator[None]:
    """Inside the block, SIGALRM's handler (RQ's monitor raising) only notes the signal; at its
    end the handler is put back and, when the signal came, run then. Call in the main thread."""
    came: list[tuple[int, FrameType | None]] = []
    handler = signal.signal(signal.SIGALRM, lambda signum, frame: came.append((signum, frame)))
    try:
        yield
    finally:
        signal.signal(signal.SIGALRM, handler)
        if came and callable(handler):
            handler(*came[0])


def _end_process_group(_signum: int, _frame: FrameType | None) -> None:
    # The horse leads its own group: this takes the OCR programs it runs along with it.
    os.killpg(os.getpgrp(), signal.SIGKILL)


class ResidentHorseWorker(Worker):
    """A forking RQ worker whose horse serves job after job over a pipe."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._resident = 0  # the live horse's pid (0: none)
        # The worker's ends of the horse's pipes (os.pipe makes them close-on-exec).
        self._to_horse = self._from_horse = -1
        self._ended: tuple[int | None, int | None, Any] | None = None  # the current job's end, once read
        self._forking = 0  # the pid of the process forking, as its child sees it
        os.register_at_fork(before=self._before_fork, after_in_child=self._after_fork_in_child)

    def fork_work_horse(self, job: Job, queue: Queue) -> None:
        """Hand the job to the resident horse, forking one first when there is none."""
        if not self._resident:
            self._fork_resident()
        self._ended = None
        message = f"{job.id}\t{self.execution.id if self.execution else ''}\t{queue.name}\n".encode()
        try:
            os.write(self._to_horse, message)
        except OSError:  # the horse died between jobs: fork a new one and hand it the job
            self._reap_resident()
            self._fork_resident()
            os.write(self._to_horse, message)
        self._horse_pid = self._resident

    def wait_for_horse(self) -> tuple[int | None, int | None, Any]:
        """Wait for the horse's answer: (pid, 0, None) once the job is done, or the horse's
        own exit (pid, status, rusage) when it died. RQ's monitor interrupts the wait with a
        signal (SIGALRM) to keep the heartbeats, as it does a ``waitpid``, and calls again.

        That signal may also come just as the answer is read. Its exception must not lose the
        answer, or the next call would wait for one that never comes and the worker would sit
        idle until the job's timeout: so the signal is deferred while the answer is read, and
        the answer is kept until the next job, for the call after the exception."""
        if self._ended is None:
            select.select([self._from_horse], [], [])  # interrupted here, nothing is read yet
            with _alarm_deferred():
                self._ended = self._read_answer()
        return self._ended

    def _read_answer(self) -> tuple[int | None, int | None, Any]:
        answer = os.read(self._from_horse, 1)
        pid = self._resident
        if answer == _DONE:
            return pid, 0, None
        # The horse is leaving (its last job done) or dead (no answer): reap it.
        _, status, rusage = self._reap_resident()
        return pid, 0 if answer == _LEAVING else status, rusage

    def teardown(self) -> None:
        """Let the resident horse go (it leaves when its pipe closes), then RQ's teardown."""
        if not self.is_horse and self._resident:
            self._reap_resident()
        super().teardown()  # type: ignore[no-untyped-call]

    def _before_fork(self) -> None:
        self._forking = os.getpid()

    def _after_fork_in_child(self) -> None:
        """In every child: let go of the horse's pipes and end when the parent ends."""
        for descriptor in (self._to_horse, self._from_horse):
            if descriptor >= 0:
                with contextlib.suppress(OSError):
                    os.close(descriptor)
        self._resident, self._to_horse, self._from_horse = 0, -1, -1
        # The parent's handler (RQ's warm shutdown) means nothing here; the child installs its own.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        end_with_parent(self._forking)

    def _fork_resident(self) -> None:
        to_read, to_write = os.pipe()
        from_read, from_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the horse
            os.close(to_write)
            os.close(from_read)
            os.setpgrp()
            self._serve(to_read, from_write)
            os._exit(0)
        os.close(to_read)
        os.close(from_write)
        self._resident, self._to_horse, self._from_horse = pid, to_write, from_read

    def _reap_resident(self) -> tuple[int, int, Any]:
        """Close the pipes and wait for the horse to end; (pid, status, rusage)."""
        for descriptor in (self._to_horse, self._from_horse):
            with contextlib.suppress(OSError):
                os.close(descriptor)
        pid, self._resident, self._to_horse, self._from_horse = self._resident, 0, -1, -1
        try:
            return os.wait4(pid, 0)
        except ChildProcessError:
            return pid, 0, None

    def _serve(self, jobs: int, answers: int) -> None:
        """The horse's loop: run each job named on ``jobs``, answer on ``answers``."""
        self.setup_work_horse_signals()  # type: ignore[no-untyped-call]
        signal.signal(signal.SIGTERM, _end_process_group)  # the worker's end, or an operator's
        self._is_horse = True
        lines = os.fdopen(jobs, "rb")
        for served in range(1, JOBS_PER_HORSE + 1):
            line = lines.readline()
            if not line:  # the worker closed the pipe: it is done with us
                return
            job_id, execution_id, queue_name = line.decode().rstrip("\n").split("\t")
            job = self.job_class.fetch(job_id, connection=self.connection, serializer=self.serializer)
            queue = self.queue_class(
                queue_name,
                connection=self.connection,
                job_class=self.job_class,
                serializer=self.serializer,
                death_penalty_class=self.death_penalty_class,
            )
            execution = Execution.fetch(execution_id, job.id, connection=self.connection)
            execution._job = job
            self.executions = {execution.id: execution}
            try:
                self.perform_job(job, queue, execution)
            except BaseException:  # perform_job handles the job's own failures; this is ours
                os._exit(1)
            os.write(answers, _LEAVING if served == JOBS_PER_HORSE else _DONE)
