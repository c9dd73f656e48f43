"""Time per full-batch step on a Dask cluster against the in-memory fit.

For each number of rows, the time of one full-batch step ('gd', fixed step)
of ``SoftplusMLPClassifier.fit``:

- in memory, with one thread and with the default thread limit;
- on a ``LocalCluster`` of one and of two worker processes (one thread
  each), the rows in four blocks.

A step's time is ``(fit(max_iter=1 + STEPS) - fit(max_iter=1)) / STEPS``,
the best of ``--repeats`` runs, so that it leaves out what a fit does once
(validation, persisting the blocks, the first step's warm-up). The cost
model of ``docs/performance.md`` ("Training on a Dask cluster") is fitted to the output:
``step(N workers, n rows) = c * n / N + o``, with ``c`` from the in-memory
step and ``o`` from the cluster's step on the fewest rows.

Run from the repository root::

    PYTHONPATH=$PWD python benchmarks/dask_benchmark.py
"""

import argparse
import os
import platform
import time
import warnings
from datetime import datetime, timezone

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from skmlp import SoftplusMLPClassifier

STEPS = 5
N_FEATURES = 20
HIDDEN = (32,)
N_BLOCKS = 4


def _data(n_samples, rng):
    X = rng.standard_normal((n_samples, N_FEATURES))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    return X, y


def _fit_time(X, y, max_iter):
    clf = SoftplusMLPClassifier(
        hidden_layer_sizes=HIDDEN, solver="gd", max_iter=max_iter, random_state=0
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return time.perf_counter() - start


def _step_time(X, y, repeats):
    """Best time per step and best time of a one-step fit, in seconds."""
    one = min(_fit_time(X, y, 1) for _ in range(repeats))
    many = min(_fit_time(X, y, 1 + STEPS) for _ in range(repeats))
    return max(many - one, 0.0) / STEPS, one


def _cluster_times(sizes, n_workers, repeats, rng_seed):
    import dask.array as da
    from distributed import Client, LocalCluster, get_task_stream

    times = {}
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster),
    ):
        rng = np.random.default_rng(rng_seed)
        for n_samples in sizes:
            X, y = _data(n_samples, rng)
            block = -(-n_samples // N_BLOCKS)
            X_dask = da.from_array(X, chunks=(block, N_FEATURES))
            y_dask = da.from_array(y, chunks=block)
            step, one = _step_time(X_dask, y_dask, repeats)
            with get_task_stream() as stream:
                _fit_time(X_dask, y_dask, 1 + STEPS)
            times[n_samples] = (step, one, _busiest_worker(stream.data))
    return times


def _busiest_worker(tasks):
    """Seconds per step that the busiest worker spent computing blocks."""
    busy = {}
    for task in tasks:
        if "_block_sums" in str(task["key"]):
            for part in task["startstops"]:
                if part["action"] == "compute":
                    seconds = part["stop"] - part["start"]
                    busy[task["worker"]] = busy.get(task["worker"], 0) + seconds
    return max(busy.values()) / (1 + STEPS)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[2_000, 20_000, 200_000]
    )
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {platform.processor() or platform.machine()}, ", end="")
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()}")
    print(f"{N_FEATURES} features -> {HIDDEN} -> 3 classes, float64, 'gd'")

    rng = np.random.default_rng(0)
    memory_1, memory_default = {}, {}
    for n_samples in args.sizes:
        X, y = _data(n_samples, rng)
        with threadpool_limits(1):
            memory_1[n_samples] = _step_time(X, y, args.repeats)
        memory_default[n_samples] = _step_time(X, y, args.repeats)
    cluster = {
        n_workers: _cluster_times(args.sizes, n_workers, args.repeats, 0)
        for n_workers in (1, 2)
    }
    print(f"load average after: {os.getloadavg()}")

    print()
    print(
        "| rows | in memory, 1 thread | in memory, default | 1 worker "
        "(computing) | 2 workers (busiest computing) | one-step fit, 2 workers |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        print(
            f"| {n:,} | {1e3 * memory_1[n][0]:.2f} ms | "
            f"{1e3 * memory_default[n][0]:.2f} ms | "
            f"{1e3 * cluster[1][n][0]:.1f} ({1e3 * cluster[1][n][2]:.1f}) ms | "
            f"{1e3 * cluster[2][n][0]:.1f} ({1e3 * cluster[2][n][2]:.1f}) ms | "
            f"{cluster[2][n][1]:.2f} s |"
        )

    # The cost model, fitted on the extremes and checked on the rest.
    largest, smallest = max(args.sizes), min(args.sizes)
    c = memory_1[largest][0] / largest
    print()
    print(f"c = {1e9 * c:.0f} ns per row per step (in memory, 1 thread)")
    for n_workers in (1, 2):
        o = cluster[n_workers][smallest][0] - c * smallest / n_workers
        print(f"{n_workers} worker(s): o = {1e3 * o:.1f} ms per step")
        for n in args.sizes:
            predicted = c * n / n_workers + o
            print(
                f"  {n:>9,} rows: model {1e3 * predicted:8.1f} ms, "
                f"measured {1e3 * cluster[n_workers][n][0]:8.1f} ms"
            )
        if n_workers > 1:
            print(f"  pays from n > o / (c (1 - 1/N)) = {o / (c / 2):,.0f} rows")


if __name__ == "__main__":
    main()
