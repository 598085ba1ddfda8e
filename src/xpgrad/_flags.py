"""Module switches (CSE, released values): a one-element list, turned off within a ``with`` block."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["off"]


@contextmanager
def off(flag: list[bool]) -> Iterator[None]:
    """Within: ``flag[0]`` is False; restored after, also on error."""
    prev = flag[0]
    flag[0] = False
    try:
        yield
    finally:
        flag[0] = prev
