"""Running the parts of an evaluation: executors, and BLAS on one thread.

An evaluation of the objective (or a prediction) is cut into parts of rows
that do not depend on the executor; an executor only runs a function on each
part and hands the results back in the order of the parts, which is the
order in which the objective adds them up. That is the whole interface::

    executor.map(function, parts, cost) -> iterator of function(part), in order

``cost`` is the number of multiply-adds of all the parts, by which a local
executor decides whether threads pay. :class:`ThreadedExecutor` runs them on
a :class:`concurrent.futures.ThreadPoolExecutor`, which it keeps from one
call to the next until it is closed, or on the calling thread when threads
do not pay (or ``n_threads=1``). It expects BLAS to run on
one thread (:class:`SingleThreadedBlas`): with more, OpenBLAS splits some
products and long dot products between its threads, which changes their
rounding, and its threads would compete with the workers.
"""

import collections
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor as _Pool

from threadpoolctl import ThreadpoolController

# Multiply-adds of an evaluation below which its parts run on the calling
# thread alone: starting and synchronising threads costs more than they
# save below it. The measurements behind the figure are in
# docs/performance.md ("Controlling the threads").
MIN_THREADED_WORK = 8_000_000

_lock = threading.Lock()
# The BLAS libraries of the process, as threadpoolctl controls them (looked
# up on first use).
_libraries = None
# Nothing below is a count: a count that a Ctrl-C splits from the change it
# counts (the signal's handler runs between any two bytecodes of the main
# thread) stays wrong for the rest of the process. What is open is derived
# from the contexts themselves. ``_outer`` maps a thread to (a weak
# reference to) the outermost context it has open, which alone changes the
# limits; a context is open from its ``_open = True`` to its
# ``_open = False``, single stores, or until it is garbage, should a Ctrl-C
# have kept its __exit__ from running at all. ``_saved_limits`` holds the
# limits found by the first context to open while any context may have
# changed them, and is None once they are set back.
_outer = {}
_saved_limits = None


def _blas_libraries():
    global _libraries
    if _libraries is None:
        _libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    return _libraries


def _any_open(holding=False):
    """Whether a context is open in any thread (with ``holding``, one that
    holds the limits at 1: not a prediction's)."""
    for reference in list(_outer.values()):
        context = reference()
        if context is not None and context._open and (context.holds or not holding):
            return True
    return False


def _saved_limit():
    """The largest limit saved, 1 if none is (set back already)."""
    return max(_saved_limits or (), default=1)


def _user_limits(limits):
    """The limits the user set, from those in force (``limits``): these,
    except where a context left a library at 1 without setting it back (its
    __exit__ cut short by a Ctrl-C), which are the limits saved before it."""
    if _saved_limits is None:
        return limits
    return [
        saved if limit == 1 else limit for limit, saved in zip(limits, _saved_limits)
    ]


def blas_held_at_one():
    """Whether BLAS runs on one thread for the calling thread: False only
    inside a :class:`SingleThreadedBlas` whose limit did not take (set from
    a thread that the OpenBLAS build does not obey). Its evaluations then
    run their parts on that thread alone, and BLAS's threads do the work in
    parallel, as for MLPClassifier."""
    reference = _outer.get(threading.get_ident())
    context = None if reference is None else reference()
    return context is None or not context._open or context.held


def blas_thread_limit():
    """The BLAS thread limit that the user set (``threadpoolctl``,
    ``OPENBLAS_NUM_THREADS``): inside :class:`SingleThreadedBlas`, the one
    in force when the first open context was entered."""
    with _lock:
        if _any_open() and _saved_limits is not None:
            return _saved_limit()
        limits = [library.num_threads for library in _blas_libraries()]
        return max(_user_limits(limits), default=1)


class SingleThreadedBlas:
    """Context in which BLAS runs on one thread, in the whole process.

    Entering it gives the BLAS thread limit that was in force (see
    :func:`blas_thread_limit`), the number of threads that the user allows.

    BLAS thread limits are process-wide, so the context is too: the first
    context to open (in any thread) saves the limits, the outermost context
    of each thread sets them to 1 if they are not (some OpenBLAS builds
    ignore a limit set by another thread than the main one), and the last
    to close sets them back; so does the main thread's when only
    predictions (``holds=False``) stay open in other threads, which may be
    unable to. So a prediction running in another thread,
    which enters and leaves its own context, cannot give a fit's products
    more BLAS threads halfway through. Nested in another on the same thread
    it changes nothing and costs next to nothing, so a training loop can
    run wholly inside one (reading the thread count first) and its
    evaluations enter theirs again; that also keeps OpenBLAS's threads,
    which spin for a while after a multi-threaded call (docs/performance.md,
    "Controlling the threads"), from competing with the workers. (The
    results do not depend on BLAS's threads where it could split a sum:
    the long dot products over the parameters are computed without BLAS,
    by :func:`~skmlp._math.reduction.dot`.)

    A Ctrl-C anywhere in entering or leaving leaves every later context
    working: an interrupted ``__enter__`` undoes what it did; a ``__exit__``
    interrupted after it marked the context closed leaves at worst the
    limits at 1 until the next context closes, which sets them back
    (meanwhile :func:`blas_thread_limit` gives the user's); one interrupted
    as it starts, before that, leaves the context open until the
    KeyboardInterrupt's traceback, which holds it, is let go. An instance
    is entered once at a time: make one per ``with``.
    """

    _open = False
    held = True

    def __init__(self, holds=True):
        self.holds = holds

    def __enter__(self):
        global _saved_limits
        thread = threading.get_ident()
        reference = _outer.get(thread)
        outer = None if reference is None else reference()
        if outer is not None and outer._open:
            self._nested = True
            return _saved_limit()
        self._nested = False
        try:
            with _lock:
                libraries = _blas_libraries()
                limits = [library.num_threads for library in libraries]
                # The first to open saves the limits, and so does one that
                # opens after the main thread set them back while another
                # thread's prediction was open.
                first = not _any_open() or _saved_limits is None
                self._open = True
                _outer[thread] = weakref.ref(self)
                if first:
                    _saved_limits = _user_limits(limits)
                # Whether the limit of 1 holds on this thread: some
                # OpenBLAS builds ignore a limit set by another thread than
                # the main one (after the main thread has set one), and the
                # parts of an evaluation would then run on as many workers,
                # each with BLAS's threads (two fits from threads took 4 to
                # 8 times as long as one after the other on 2 cores).
                self.held = True
                for library, limit in zip(libraries, limits):
                    if limit != 1:
                        library.set_num_threads(1)
                        self.held = self.held and library.num_threads == 1
                return _saved_limit()
        except BaseException:
            self._close()
            raise

    def __exit__(self, *exception):
        if not self._nested:
            self._close()

    def _close(self):
        """Close the context; the last one open sets the limits back. Closing
        it again changes nothing, so that whatever a Ctrl-C cut short can be
        done again."""
        global _saved_limits
        with _lock:
            self._open = False
            thread = threading.get_ident()
            reference = _outer.get(thread)
            if reference is not None and reference() in (self, None):
                del _outer[thread]
            # The main thread, whose limits every build obeys, sets them
            # back even while another thread's prediction is open: that
            # thread may be unable to (some OpenBLAS builds ignore a limit
            # set by another thread), and the process then stayed at one
            # BLAS thread after every call had returned. A prediction only
            # runs a little slower with BLAS's threads; a fit open in
            # another thread still keeps them at 1.
            main = threading.current_thread() is threading.main_thread()
            if _saved_limits is None or _any_open(holding=main):
                return
            libraries = _blas_libraries()
            limits = [library.num_threads for library in libraries]
            restored = True
            for library, now, limit in zip(libraries, limits, _user_limits(limits)):
                if now != limit:
                    library.set_num_threads(limit)
                    # Some OpenBLAS builds ignore a limit set by another
                    # thread than the main one: the limits stay saved for
                    # the next context to set back.
                    restored = restored and library.num_threads == limit
            if restored:
                _saved_limits = None


class ThreadedExecutor:
    """Runs the parts on up to ``n_threads`` threads, at most one per part.

    The threads are made at the first call that uses them and kept for the
    next calls (a fit evaluates its objective once or more per epoch) until
    :meth:`close`, which a ``with`` block calls on leaving it; an executor
    that is let go without being closed lets its threads go too. Like the
    objective that holds it, one executor runs one call at a time.

    Parameters
    ----------
    n_threads : int, default=None
        None: the BLAS thread limit at each call (:func:`blas_thread_limit`).
    min_work : int, default=MIN_THREADED_WORK
        Calls of a smaller ``cost`` (multiply-adds) run on the calling
        thread, where starting threads would cost more than they save.

    Notes
    -----
    At most ``n_threads + 1`` parts are started and not yet handed back at
    any time, so that no more than that many partial results (gradients,
    for the objective) exist at once, whatever the number of parts. The one
    part queued ahead of the threads is what keeps them busy: a thread that
    finishes a part while the calling thread is still waiting for the part
    in front of it, or taking its result, starts that queued part at once
    instead of waiting. It costs one partial result in all, not one per
    thread. Threads kept from one call to the next save starting new ones
    at every call. (The figures of both are in docs/performance.md, "How an
    evaluation runs".)
    """

    def __init__(self, n_threads=None, min_work=MIN_THREADED_WORK):
        self.n_threads = n_threads
        self.min_work = min_work
        self._pool = None

    def map(self, function, parts, cost=0):
        parts = list(parts)
        if len(parts) < 2 or cost < self.min_work:
            return map(function, parts)
        limit = self.n_threads or blas_thread_limit()
        n_threads = min(limit, len(parts))
        if n_threads < 2 or not blas_held_at_one():
            return map(function, parts)
        return _in_order(function, parts, self._threads(limit), n_threads)

    def _threads(self, limit):
        """The pool of up to ``limit`` threads: the kept one if it has as
        many. (A call of fewer parts uses fewer of them: the pool makes its
        threads as the parts come, and a call of more parts later finds
        them.)"""
        if self._pool is not None and self._pool[1] != limit:
            self.close()
        if self._pool is None:
            self._pool = _Pool(limit, thread_name_prefix="skmlp"), limit
        return self._pool[0]

    def close(self):
        """Let the threads go, once the parts they run are done."""
        if self._pool is not None:
            pool, self._pool = self._pool[0], None
            pool.shutdown(wait=True)

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        self.close()


def _in_order(function, parts, pool, n_threads):
    pending = collections.deque()
    try:
        for part in parts:
            if len(pending) == n_threads + 1:
                yield pending.popleft().result()
            pending.append(pool.submit(function, part))
        while pending:
            yield pending.popleft().result()
    finally:
        # After a part's error, or a caller that stopped taking results (a
        # Ctrl-C): the parts not started are dropped. The running ones are
        # left to end, in buffers of their own (the objective's pools), and
        # close() waits for them. Not waiting here: this may run when the
        # garbage collector frees the generator, on any thread, one of the
        # pool's included, which would then wait for itself.
        for future in pending:
            future.cancel()
