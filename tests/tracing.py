"""Watching a fit by tracing (``sys.settrace``): what it calls, and Ctrl-C
at a chosen point.

A ``KeyboardInterrupt`` raised by a trace function is raised in the traced
frame, at the call or the line being traced, as a real Ctrl-C would be
between two lines; tracing then stops, so each context interrupts once.
"""

import contextlib
import sys


@contextlib.contextmanager
def _tracing(trace):
    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        yield
    finally:
        sys.settrace(previous)


def count_calls(counts, where):
    """Count in the dict ``counts`` the calls of the functions named by its
    keys (methods of any class: a protocol's names) defined in the file or
    under the folder ``where``."""
    where = str(where)

    def trace(frame, event, arg):
        code = frame.f_code
        if (
            event == "call"
            and code.co_name in counts
            and code.co_filename.startswith(where)
        ):
            counts[code.co_name] += 1

    return _tracing(trace)


def interrupt_at_call(function_name, n, where=""):
    """Ctrl-C as the ``n``-th call of a function named ``function_name``
    (defined in the file or under the folder ``where``) starts."""
    calls = 0
    where = str(where)

    def trace(frame, event, arg):
        nonlocal calls
        code = frame.f_code
        if (
            event == "call"
            and code.co_name == function_name
            and code.co_filename.startswith(where)
        ):
            calls += 1
            if calls == n:
                raise KeyboardInterrupt

    return _tracing(trace)


class LineCounter:
    """Counts the lines run in the modules ``files``; with ``interrupt_at``,
    raises Ctrl-C before running the line of that count (from 1)."""

    def __init__(self, files, interrupt_at=None):
        self.files = {str(file) for file in files}
        self.interrupt_at = interrupt_at
        self.count = 0

    def __call__(self):
        return _tracing(self._trace)

    def _trace(self, frame, event, arg):
        if event == "call" and frame.f_code.co_filename in self.files:
            return self._trace_lines

    def _trace_lines(self, frame, event, arg):
        if event == "line":
            self.count += 1
            if self.count == self.interrupt_at:
                raise KeyboardInterrupt
        return self._trace_lines


def at_every_line(files, action):
    """Call ``action()`` before each line run in the modules ``files``:
    what another thread may do between any two lines of theirs, in a
    chosen place rather than wherever a race lands."""
    files = {str(file) for file in files}

    def trace_lines(frame, event, arg):
        if event == "line":
            action()
        return trace_lines

    def trace(frame, event, arg):
        if event == "call" and frame.f_code.co_filename in files:
            return trace_lines

    return _tracing(trace)


class SignalPoints:
    """Counts the points in the modules ``files`` where CPython runs a
    signal's handler; with ``interrupt_at``, raises Ctrl-C at the point of
    that count (from 1).

    The handler of a real Ctrl-C runs only where the interpreter checks for
    signals: as a Python function starts, after a call returns, at a
    backward jump. These are the first two (a profile function sees them,
    as ``call`` and ``c_return``), each raised in the instruction that
    checks, as a signal is. An interrupt at a traced line (``LineCounter``)
    also lands where no signal can, for example between a ``with`` block's
    last line and the call of its ``__exit__``, which then never runs.
    """

    def __init__(self, files, interrupt_at=None):
        self.files = {str(file) for file in files}
        self.interrupt_at = interrupt_at
        self.count = 0

    @contextlib.contextmanager
    def __call__(self):
        previous = sys.getprofile()
        sys.setprofile(self._profile)
        try:
            yield
        finally:
            sys.setprofile(previous)

    def _profile(self, frame, event, arg):
        if event in ("call", "c_return") and frame.f_code.co_filename in self.files:
            self.count += 1
            if self.count == self.interrupt_at:
                raise KeyboardInterrupt
