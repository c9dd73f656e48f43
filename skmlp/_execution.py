"""Running the blocks of rows of an evaluation: threads and BLAS control."""

import threading

from threadpoolctl import ThreadpoolController

# The BLAS libraries loaded in the process, as threadpoolctl controls them;
# looked up once, on first use.
_blas_libraries = []
_blas_lookup = threading.Lock()

# Multiply-adds of a call below which the chunks run on the calling thread
# alone: starting and synchronising threads ate the gain below about 1.5 ms
# of work (a two-core AMD EPYC: 4.3 million multiply-adds ran 0.8 times as
# fast on two threads, 8.5 million 1.1 times, 25 million 1.4 times).
MIN_THREADED_WORK = 8_000_000

# The limit that the outermost SingleThreadedBlas of each thread found.
_blas_state = threading.local()


def _blas():
    with _blas_lookup:
        if not _blas_libraries:
            controller = ThreadpoolController().select(user_api="blas")
            _blas_libraries.append(controller.lib_controllers)
    return _blas_libraries[0]


class SingleThreadedBlas:
    """Context in which BLAS runs on one thread; entering it gives the BLAS
    thread limit that was in force (as ``threadpoolctl.threadpool_limits``
    or ``OPENBLAS_NUM_THREADS`` set it), which is the number of threads the
    chunks may use.

    With more threads, OpenBLAS splits some products and the sums of dot
    products of more than 10000 numbers between them, which changes their
    rounding: on one thread every product comes out the same whatever the
    limit, and the worker threads of :func:`_for_each_chunk` do not
    oversubscribe the cores. Entering and leaving costs a few microseconds,
    and next to nothing when nested in another on the same thread (which
    gives the outer one's limit), so a training loop can run wholly inside
    it (reading the thread count first), which also keeps
    OpenBLAS's own threads, which spin for about 0.1 s after a
    multi-threaded call, from competing with the workers.
    """

    def __enter__(self):
        outer = getattr(_blas_state, "limit", None)
        self._outer = outer is not None
        if self._outer:
            # Nested on this thread: BLAS is on one thread already.
            return outer
        self._libraries = _blas()
        self._limits = [library.num_threads for library in self._libraries]
        for library, limit in zip(self._libraries, self._limits):
            if limit != 1:
                library.set_num_threads(1)
        _blas_state.limit = max(self._limits, default=1)
        return _blas_state.limit

    def __exit__(self, *exception):
        if self._outer:
            return
        _blas_state.limit = None
        for library, limit in zip(self._libraries, self._limits):
            if limit != 1:
                library.set_num_threads(limit)


def _for_each_chunk(n_samples, chunk_size, n_threads, work_per_row, work, commit=None):
    """Call ``work(slot, start, stop)`` for every chunk of ``chunk_size``
    rows, and after each chunk ``commit(slot)``, in chunk order.

    ``slot`` numbers the buffers that ``work`` fills and ``commit`` reads:
    a slot is not handed out again before its chunk is committed, and
    ``commit`` is called for chunk ``k`` only after it was called for chunks
    ``0..k-1``, which fixes the order of any sum that it accumulates. The
    chunks run on up to ``n_threads`` threads, at most one per chunk, and
    on the calling thread alone (with slot 0) when the call has less than
    ``MIN_THREADED_WORK`` multiply-adds (``work_per_row`` per row). Call it
    within ``SingleThreadedBlas``.
    """
    n_chunks = -(-n_samples // chunk_size)
    n_threads = min(n_threads, n_chunks)
    if n_threads > 1 and n_samples * work_per_row >= MIN_THREADED_WORK:
        _run_threads(n_threads, n_samples, chunk_size, work, commit)
        return
    for start in range(0, n_samples, chunk_size):
        work(0, start, min(start + chunk_size, n_samples))
        if commit is not None:
            commit(0)


def _run_threads(n_threads, n_samples, chunk_size, work, commit):
    """The threaded part of ``_for_each_chunk``.

    A thread takes the next chunk and a free slot, works, and leaves the
    slot with the finished chunks; whichever thread finds the next chunk in
    order among them commits it, and the ones after it, outside the lock.
    Two slots per thread let a thread go on while the chunk before its own
    is still running on a thread that the operating system has paused.
    """
    n_chunks = -(-n_samples // chunk_size)
    lock = threading.Condition()
    free_slots = list(range(2 * n_threads - 1, -1, -1))
    finished = {}
    next_chunk = 0
    next_commit = 0
    committing = False
    failures = []

    def commit_in_order():
        nonlocal next_commit, committing
        while True:
            with lock:
                slot = finished.pop(next_commit, None)
                if slot is None or failures:
                    committing = False
                    return
            if commit is not None:
                commit(slot)
            with lock:
                next_commit += 1
                free_slots.append(slot)
                lock.notify_all()

    def run():
        nonlocal next_chunk, committing
        try:
            while True:
                with lock:
                    while not free_slots and not failures:
                        lock.wait()
                    if failures or next_chunk == n_chunks:
                        return
                    chunk, slot = next_chunk, free_slots.pop()
                    next_chunk += 1
                start = chunk * chunk_size
                work(slot, start, min(start + chunk_size, n_samples))
                with lock:
                    finished[chunk] = slot
                    if committing:
                        continue
                    committing = True
                commit_in_order()
        except BaseException as exc:
            with lock:
                failures.append(exc)
                lock.notify_all()

    threads = [threading.Thread(target=run, daemon=True) for _ in range(n_threads - 1)]
    for thread in threads:
        thread.start()
    run()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
