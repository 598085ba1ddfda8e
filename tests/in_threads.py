"""Running test jobs in several threads at once, switching between them as often as CPython allows."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable


def run_in_threads(*jobs: Callable[[], None]) -> None:
    """Run each job in a thread of its own (switch interval 1 us), and raise the first error any raised."""
    errors: list[BaseException] = []

    def guard(job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as e:  # reported to the main thread
            errors.append(e)

    threads = [threading.Thread(target=guard, args=(job,)) for job in jobs]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, also inside a sweep
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors[0]
