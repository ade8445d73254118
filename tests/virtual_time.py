"""An asyncio event loop on a virtual clock, for tests that time things.

``loop.time()`` (the clock of the loop's timers: ``call_later``, ``asyncio.sleep``,
``asyncio.timeout``) starts at 0 and moves only when the loop would wait for its next
timer, which it then reaches at once, or when the test says that some work keeps the loop
busy (:meth:`VirtualTimeLoop.advance`, in place of blocking it). So timed code runs the same
on a loaded machine as on an idle one, and without the waits. For code that does no real
I/O: a loop that would wait for a socket jumps to its next timer instead.

:func:`on_virtual_time` runs an async test on a loop of its own.
"""

from __future__ import annotations

import asyncio
import functools
import selectors
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec

P = ParamSpec("P")


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0


class _Selector(selectors.DefaultSelector):
    """Polls without waiting; when nothing is ready, the time the loop would have waited
    (until its next timer) passes on the clock instead. With no timer (``None``), it waits
    for real: only another thread can wake the loop then."""

    def __init__(self, clock: _Clock) -> None:
        super().__init__()
        self.clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(None if timeout is None else 0)
        if not ready and timeout is not None and timeout > 0:
            self.clock.now += timeout
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose ``time()`` is a virtual clock (see the module)."""

    def __init__(self) -> None:
        self._virtual_clock = _Clock()
        super().__init__(_Selector(self._virtual_clock))

    def time(self) -> float:
        return self._virtual_clock.now

    def advance(self, seconds: float) -> None:
        """``seconds`` pass while the loop is busy (nothing else runs meanwhile)."""
        self._virtual_clock.now += seconds


def running_loop() -> VirtualTimeLoop:
    """The running loop, which must be a :class:`VirtualTimeLoop`."""
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop), loop
    return loop


def on_virtual_time(test: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """Run the async test on a :class:`VirtualTimeLoop` of its own (pytest then sees a
    plain test function, with the same parameters)."""

    @functools.wraps(test)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
            runner.run(test(*args, **kwargs))

    return run
