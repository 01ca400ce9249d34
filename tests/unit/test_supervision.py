"""Finding 7: a crashing child is restarted with growing delays, and a crash loop ends."""

import sys
import time

from service.cli.supervision import Child, Policy

CRASH = [sys.executable, "-c", "import sys; sys.exit(3)"]


def supervise(child: Child, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    child.start()
    while time.monotonic() < deadline and not child.gave_up:
        child.check()
        time.sleep(0.01)


def test_a_crash_loop_is_restarted_with_backoff_then_given_up():
    said: list[str] = []
    policy = Policy(backoff_start_s=0.05, backoff_max_s=1.0, fast_crash_s=5.0, max_fast_crashes=4)
    child = Child("worker 1", CRASH, {}, policy=policy, say=said.append)
    started = time.monotonic()
    supervise(child, 10)
    assert child.gave_up
    delays = [line.split(" in ")[1] for line in said if "starting it again" in line]
    assert delays == ["0.05 s.", "0.1 s.", "0.2 s."]  # doubling, not a fixed 0.5 s forever
    assert (
        "worker 1 exited with status 3, the 4th time in a row within 5 s of starting; giving up" in said[-1]
    )
    assert time.monotonic() - started >= 0.35


def test_a_child_that_lived_long_enough_starts_a_new_count():
    said: list[str] = []
    policy = Policy(backoff_start_s=0.05, fast_crash_s=0.3, max_fast_crashes=2)
    slow_crash = [sys.executable, "-c", "import sys, time; time.sleep(0.5); sys.exit(1)"]
    child = Child("the API", slow_crash, {}, policy=policy, say=said.append)
    supervise(child, 3)
    assert not child.gave_up  # each run lived longer than fast_crash_s: always restarted
    assert sum("starting it again in 0.05 s" in line for line in said) >= 2
    child.process.kill()
