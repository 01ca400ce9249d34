"""Keeping ``lector up``'s children alive: restart with exponential backoff, give up on a loop.

A child that dies is started again after a delay that doubles with each crash in a row
(``BACKOFF_START_S`` up to ``BACKOFF_MAX_S``). A crash counts as *fast* when the child lived
less than ``FAST_CRASH_S``; after ``MAX_FAST_CRASHES`` fast crashes in a row (a bad setting,
Redis gone, a port taken) restarting cannot help, and the supervisor gives up so that the
person or the service manager above it sees a non-zero exit and the reason.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 30.0
FAST_CRASH_S = 10.0
MAX_FAST_CRASHES = 5


@dataclass
class Policy:
    """How a child is restarted (the tests shorten the times)."""

    backoff_start_s: float = BACKOFF_START_S
    backoff_max_s: float = BACKOFF_MAX_S
    fast_crash_s: float = FAST_CRASH_S
    max_fast_crashes: int = MAX_FAST_CRASHES


@dataclass
class Child:
    """One supervised process."""

    name: str
    command: Sequence[str]
    env: dict[str, str]
    policy: Policy = field(default_factory=Policy)
    say: Callable[[str], None] = print
    #: Called with the pid of a process that ended (its metrics' live gauges are dropped).
    on_exit: Callable[[int], None] | None = None
    #: The file mode creation mask of the process (-1: this one's).
    umask: int = -1
    #: Where its standard output goes (None: this process's).
    stdout: int | None = None
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    fast_crashes: int = 0
    restart_at: float | None = None
    gave_up: bool = False

    def start(self) -> None:
        """Start the process, in its own session so Ctrl-C reaches only the supervisor."""
        self.process = subprocess.Popen(
            list(self.command), env=self.env, start_new_session=True, umask=self.umask, stdout=self.stdout
        )
        self.started_at = time.monotonic()
        self.restart_at = None

    def check(self) -> None:
        """Notice a death and schedule the restart, or restart when its time has come."""
        now = time.monotonic()
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.start()
            return
        if self.process is None or self.process.poll() is None:
            return
        if self.on_exit is not None:
            self.on_exit(self.process.pid)
        lived = now - self.started_at
        self.fast_crashes = self.fast_crashes + 1 if lived < self.policy.fast_crash_s else 1
        status = self.process.returncode
        if self.fast_crashes >= self.policy.max_fast_crashes:
            self.gave_up = True
            self.say(
                f"{self.name} exited with status {status}, the {self.fast_crashes}th time in a row within "
                f"{self.policy.fast_crash_s:g} s of starting; giving up (see its messages above)."
            )
            return
        delay = min(self.policy.backoff_start_s * 2 ** (self.fast_crashes - 1), self.policy.backoff_max_s)
        self.say(f"{self.name} exited with status {status}; starting it again in {delay:g} s.")
        self.restart_at = now + delay

    @property
    def running(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.poll() is None
