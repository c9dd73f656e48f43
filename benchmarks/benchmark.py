"""Speed and memory of SoftplusMLPClassifier against scikit-learn's MLPClassifier.

Measures, in one run and interleaved (each repeat runs every contender of a
case once, in turn), with medians over the repeats:

1. time per epoch against ``MLPClassifier(activation='logistic',
   solver='sgd')`` on the full batch, momentum 0 for ``'gd'`` and Nesterov's
   momentum 0.9 for ``'nag'``: (a) Iris 150x4 -> 16 -> 3, 350 iterations;
   (b) synthetic 20000x100 -> 256 -> 3; (c) synthetic 100000x784 -> 512 -> 10,
   float32 and float64;
2. the bare-GEMM floor of (b) and (c): the matrix products of one step and
   nothing else, both on the full matrices (BLAS's own threads) and on the
   blocks, parts and threads that SoftplusMLPClassifier uses;
3. time to a target training loss on the digits: 'gd', 'nag' and 'lbfgs'
   against MLPClassifier's 'adam', 'sgd' and 'lbfgs', each at the best of a
   small grid;
4. peak memory (tracemalloc) of a fit on (c) at two numbers of rows, and of
   a fit of 4 million parameters on 1, 2 and 8 threads.

It writes a Markdown report (``benchmarks/results.md`` by default) and, with
``--update-docs``, puts it into ``docs/performance.md`` between the markers.
On the console it also prints the targets the developers check (the speed
ratios of issue 11, met or not), which the report, a user page, leaves out.

``--baseline PATH`` also times the estimator of another checkout of skmlp
(for example ``git worktree add /tmp/base <rev>``) on (a) and (b), interleaved
with the current code within each repeat and in the same process: a before
and after from one run on one machine. Only the public estimator is used,
so the two may differ in every internal. The comparison goes into
``benchmarks/results.md`` and the console, not into the docs.

Run from the repository root::

    python benchmarks/benchmark.py            # about ten minutes on two cores
    python benchmarks/benchmark.py --quick    # a few minutes, smaller (c)
    python benchmarks/benchmark.py --baseline /tmp/base

On machines where ``OPENBLAS_CORETYPE`` (and ``OPENBLAS_L2_SIZE``) are set to
work around old OpenBLAS bugs, they also slow a current one down: unset both
for the benchmark command alone (``env -u OPENBLAS_CORETYPE -u
OPENBLAS_L2_SIZE python benchmarks/benchmark.py``); the report records the
kernel that ran.
"""

import argparse
import datetime
import importlib.util
import os
import platform
import subprocess
import sys
import threading
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import scipy
import sklearn
from sklearn.datasets import load_digits, load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info, threadpool_limits

import skmlp
import skmlp._evaluation.execution
import skmlp._evaluation.objective
import skmlp._math.activations
from skmlp import DivergenceError, SoftplusMLPClassifier
from skmlp._evaluation.objective import Objective
from skmlp._math.layout import ParameterLayout
from skmlp._solvers.first_order import make_solver

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- benchmark results: begin -->", "<!-- benchmark results: end -->"
ALPHA = 1e-4


# ----------------------------------------------------------------------------
# Contenders


def ours(
    hidden,
    solver,
    max_iter,
    learning_rate=0.01,
    batch_size=None,
    estimator=SoftplusMLPClassifier,
):
    """SoftplusMLPClassifier (on the full batch by default), running exactly
    max_iter epochs; ``estimator`` may be a baseline's class."""
    return estimator(
        hidden_layer_sizes=hidden,
        solver=solver,
        alpha=ALPHA,
        batch_size=batch_size,
        learning_rate_init=learning_rate,
        max_iter=max_iter,
        tol=0.0,
        n_iter_no_change=max_iter,
        random_state=0,
    )


def theirs(hidden, solver, max_iter, n_samples, learning_rate=0.01, shuffle=False):
    """MLPClassifier set up as ``ours``: logistic units, full-batch SGD.

    ``shuffle=False`` by default: on the full batch shuffling changes nothing
    but costs a copy of the data per epoch, so MLPClassifier is timed
    without it.
    """
    return MLPClassifier(
        hidden_layer_sizes=hidden,
        activation="logistic",
        solver="sgd",
        alpha=ALPHA,
        batch_size=n_samples,
        learning_rate_init=learning_rate,
        momentum=0.0 if solver == "gd" else 0.9,
        nesterovs_momentum=solver == "nag",
        max_iter=max_iter,
        tol=0.0,
        n_iter_no_change=max_iter,
        shuffle=shuffle,
        random_state=0,
    )


class GemmFloor:
    """The matrix products of one full-batch step of a one-hidden-layer net.

    Forward ``X W0`` and ``A W1``, backward ``A^T D1``, ``D1 W1^T`` and
    ``X^T D0``: what every implementation must compute, nothing else.
    ``full`` runs them on the whole matrices with BLAS's own threads (as
    MLPClassifier does); ``blocks`` on the blocks, parts and threads of
    SoftplusMLPClassifier, each with single-threaded BLAS.
    """

    def __init__(self, X, width, n_outputs):
        rng = np.random.default_rng(0)
        dtype = X.dtype
        n_samples, n_features = X.shape
        self.X = X
        self.W0 = rng.standard_normal((n_features, width)).astype(dtype)
        self.W1 = rng.standard_normal((width, n_outputs)).astype(dtype)
        self.width, self.n_outputs = width, n_outputs
        self._full = None
        self._free = []
        self._lock = threading.Lock()

    def full(self):
        X, W0, W1 = self.X, self.W0, self.W1
        if self._full is None:
            self._full = self._buffers(X.shape[0])
        A, Z, B, G0, G1 = self._full
        np.matmul(X, W0, out=A)
        np.matmul(A, W1, out=Z)
        np.matmul(A.T, Z, out=G1)
        np.matmul(Z, W1.T, out=B)
        np.matmul(X.T, B, out=G0)

    def full_one_thread(self):
        with threadpool_limits(1, user_api="blas"):
            self.full()

    def blocks(self):
        X, W0, W1 = self.X, self.W0, self.W1
        block_size = skmlp._evaluation.blocks.rows_per_block(
            (X.shape[1], self.width, self.n_outputs), X.dtype
        )

        def work(part):
            with self._lock:
                buffers = self._free.pop() if self._free else None
            if buffers is None:
                buffers = self._buffers(block_size)
            for start, stop in part:
                A, Z, B = (buffer[: stop - start] for buffer in buffers[:3])
                G0, G1 = buffers[3:]
                x = X[start:stop]
                np.matmul(x, W0, out=A)
                np.matmul(A, W1, out=Z)
                np.matmul(A.T, Z, out=G1)
                np.matmul(Z, W1.T, out=B)
                np.matmul(x.T, B, out=G0)
            with self._lock:
                self._free.append(buffers)

        work_per_row = X.shape[1] * self.width + self.width * self.n_outputs
        parts = skmlp._evaluation.blocks._parts(X.shape[0], block_size)
        with skmlp._evaluation.execution.SingleThreadedBlas():
            for _ in skmlp._evaluation.execution.ThreadedExecutor().map(
                work, parts, X.shape[0] * work_per_row
            ):
                pass

    def _buffers(self, rows):
        dtype, width, n_outputs = self.X.dtype, self.width, self.n_outputs
        return (
            np.empty((rows, width), dtype),
            np.empty((rows, n_outputs), dtype),
            np.empty((rows, width), dtype),
            np.empty((self.X.shape[1], width), dtype),
            np.empty((width, n_outputs), dtype),
        )


# ----------------------------------------------------------------------------
# Measuring


# Pause before each timed run. After a multi-threaded product, OpenBLAS's
# threads spin for about 0.1 s (its THREAD_TIMEOUT, 2**28 cycles) before
# they sleep: a contender that runs threads of its own just after one that
# ran BLAS's (MLPClassifier, the full floor) shares the cores with them,
# which cost a 20000x100 -> 256 fit of 5 epochs a quarter of its time here.
SETTLE_SECONDS = 0.3


def interleaved(contenders, repeats, settle=SETTLE_SECONDS):
    """Wall time of each callable, run in turn ``repeats`` times.

    Returns ``{name: array of times}``; running the contenders one after the
    other within each repeat exposes them to the same load on a shared
    machine. Each run starts ``settle`` seconds after the previous one
    ended, so that no contender runs beside BLAS threads that another
    left spinning.
    """
    times = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            time.sleep(settle)
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: np.array(t) for name, t in times.items()}


def spread(times):
    """(max - min) / median: how much the repeats disagree."""
    return (times.max() - times.min()) / np.median(times)


def fit_runner(estimator, X, y, blas_threads=None):
    def run():
        with warnings.catch_warnings(), threadpool_limits(blas_threads):
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(X, y)

    return run


def synthetic(n_samples, n_features, n_classes, dtype):
    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=min(n_features, 20),
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        random_state=0,
    )
    return X.astype(dtype), y


def loop_runner(estimator, X, y, epochs):
    """The solver's steps on the objective, without the estimator around
    them (validation, bookkeeping of the epochs): what the objective and
    the solver cost alone."""
    layout = ParameterLayout(
        (X.shape[1], *estimator.hidden_layer_sizes, len(np.unique(y)))
    )

    def run():
        objective = Objective(layout, X, y, np.ones(len(y)), estimator.alpha)
        theta = layout.initialize(np.random.RandomState(0), X.dtype)
        solver = make_solver(
            estimator.solver,
            estimator.learning_rate_init,
            estimator.restart,
            estimator.momentum,
            estimator.tol,
            full_batch=True,
        )
        for _ in range(epochs):
            solver.step(theta, objective)

    return run


def epoch_case(
    name,
    X,
    y,
    hidden,
    solvers,
    epochs,
    repeats,
    floor,
    loop=False,
    settle=None,
    baseline=None,
):
    """Per-epoch times of MLPClassifier, ours, and optionally the floors,
    our solver loop alone and a baseline's estimator class.

    A floor runs as many steps per timed run as a fit runs epochs, so that
    both pay the same once-per-run costs (a cold cache, a CPU that slept
    through the settling pause). ``settle`` defaults to ``SETTLE_SECONDS``.
    """
    contenders = {}
    pairs = {}
    for solver in solvers:
        contenders[("theirs", solver)] = fit_runner(
            theirs(hidden, solver, epochs, X.shape[0]), X, y
        )
        current = ours(hidden, solver, epochs)
        contenders[("ours", solver)] = fit_runner(current, X, y)
        if baseline is not None:
            before = ours(hidden, solver, epochs, estimator=baseline)
            contenders[("baseline", solver)] = fit_runner(before, X, y)
            pairs[solver] = (before, current)
        if loop:
            contenders[("loop", solver)] = loop_runner(
                ours(hidden, solver, epochs), X, y, epochs
            )
            contenders[("theirs shuffled", solver)] = fit_runner(
                theirs(hidden, solver, epochs, X.shape[0], shuffle=True), X, y
            )
    if floor:
        # BLAS's own threads stall each other on a busy machine: the floor
        # and MLPClassifier on one BLAS thread show how much.
        contenders[("theirs, 1 BLAS thread", "gd")] = fit_runner(
            theirs(hidden, "gd", epochs, X.shape[0]), X, y, blas_threads=1
        )
        gemm = GemmFloor(X, hidden[0], len(np.unique(y)))

        def steps(step):
            def run():
                for _ in range(epochs):
                    step()

            return run

        contenders["floor full"] = steps(gemm.full)
        contenders["floor full, 1 BLAS thread"] = steps(gemm.full_one_thread)
        contenders["floor blocks"] = steps(gemm.blocks)
    times = interleaved(
        contenders, repeats, SETTLE_SECONDS if settle is None else settle
    )
    per_epoch = {}
    for key, t in times.items():
        per_epoch[key] = (np.median(t) / epochs, spread(t))
    # A before and after means something only if both compute the same fit.
    weight_change = {
        solver: max(
            float(np.max(np.abs(old - new)))
            for old, new in zip(
                before.coefs_ + before.intercepts_,
                current.coefs_ + current.intercepts_,
            )
        )
        for solver, (before, current) in pairs.items()
    }
    shape = " → ".join(map(str, (X.shape[1], *hidden, len(np.unique(y)))))
    return {
        "name": name,
        "shape": f"{X.shape[0]} × {shape}",
        "epochs": epochs,
        "dtype": X.dtype.name,
        "per_epoch": per_epoch,
        "weight_change": weight_change,
    }


def block_breakdown(dtype, repeats, calls=50):
    """Where one block of (b) goes, on one thread: the bare products of a
    step, our whole evaluation, softplus with its derivative, and exp and
    log alone (the transcendental passes of our softplus).

    Microseconds per call, the median of the repeats of ``calls`` calls.
    """
    n_features, width, n_outputs = 100, 256, 3
    rows = skmlp._evaluation.blocks.rows_per_block(
        (n_features, width, n_outputs), dtype
    )
    X, y = synthetic(rows, n_features, n_outputs, dtype)
    layout = ParameterLayout((n_features, width, n_outputs))
    theta = layout.initialize(np.random.RandomState(0), dtype)
    objective = Objective(layout, X, y, np.ones(rows, dtype), ALPHA, n_threads=1)
    floor = GemmFloor(X, width, n_outputs)
    # Pre-activations of the size and spread of the hidden layer's.
    z = (X @ floor.W0 / np.sqrt(n_features)).T.astype(dtype)
    work, scratch, derivative = (np.empty_like(z) for _ in range(3))

    def softplus():
        np.copyto(work, z)
        skmlp._math.activations.softplus_inplace(work, scratch, derivative)

    def copy():
        np.copyto(work, z)

    def exp_log():
        # The two transcendental passes of skmlp's softplus (its log1p is a
        # log and a correction: skmlp._math.activations).
        np.exp(z, out=scratch)
        np.log(scratch, out=work)

    def repeated(function):
        def run():
            for _ in range(calls):
                function()

        return run

    contenders = {
        "products": repeated(floor.full),
        "evaluation": repeated(lambda: objective.value_and_gradient(theta)),
        "softplus": repeated(softplus),
        "copy": repeated(copy),
        "exp + log": repeated(exp_log),
    }
    with threadpool_limits(1):
        times = interleaved(contenders, repeats)
    us = {name: 1e6 * float(np.median(t)) / calls for name, t in times.items()}
    us["softplus"] -= us.pop("copy")
    return {"dtype": np.dtype(dtype).name, "rows": rows, "us": us}


def time_to_target(X, y, target, make, budget):
    """Smallest number of epochs (iterations) at which the training
    objective of ``make(n)`` reaches ``target``, and the time of that fit.

    Doubling, then bisection over the number of epochs; the objective of a
    fit is evaluated outside the timing. None if the setting diverges or
    does not reach the target within ``budget`` epochs.
    """

    def objective_after(n):
        estimator = make(n)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            start = time.perf_counter()
            try:
                estimator.fit(X, y)
            except DivergenceError:
                return np.nan, np.nan
            elapsed = time.perf_counter() - start
            return training_objective(estimator, X, y), elapsed

    low, high = 0, 1
    while True:
        value, _ = objective_after(high)
        if value <= target:
            break
        low, high = high, 2 * high
        if not np.isfinite(value) or high > budget:
            return None
    while high - low > 1:
        middle = (low + high) // 2
        if objective_after(middle)[0] <= target:
            high = middle
        else:
            low = middle
    elapsed = np.median([objective_after(high)[1] for _ in range(3)])
    return high, elapsed


def training_objective(estimator, X, y):
    """Mean cross-entropy plus ``alpha / (2 n) * sum ||W||^2``, as both
    estimators minimise on the full batch."""
    proba = estimator.predict_proba(X)
    picked = proba[np.arange(len(y)), np.searchsorted(estimator.classes_, y)]
    penalty = sum(float(np.sum(W**2)) for W in estimator.coefs_)
    return float(-np.mean(np.log(picked)) + ALPHA / (2 * len(y)) * penalty)


def digits_race(target, quick):
    """Time to ``target`` on the standardised digits, 64 -> 64 -> 10: the
    full-batch methods ('gd', 'nag', 'lbfgs') against mini-batches and
    MLPClassifier's solvers."""
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    hidden = (64,)
    n = X.shape[0]

    def mlp(solver, **params):
        return lambda m: MLPClassifier(
            hidden_layer_sizes=hidden,
            solver=solver,
            alpha=ALPHA,
            max_iter=m,
            tol=0.0,
            n_iter_no_change=m,
            random_state=0,
            **params,
        )

    grid = {
        "skmlp 'gd'": [
            (f"lr={lr}", lambda m, lr=lr: ours(hidden, "gd", m, lr))
            for lr in (1.0, 3.0, 10.0, "auto")
        ],
        "skmlp 'nag'": [
            (f"lr={lr}", lambda m, lr=lr: ours(hidden, "nag", m, lr))
            for lr in (0.3, 1.0, 3.0, "auto")
        ],
        "skmlp 'lbfgs'": [("default", lambda m: ours(hidden, "lbfgs", m))],
        "skmlp 'nag', mini-batches of 200": [
            (f"lr={lr}", lambda m, lr=lr: ours(hidden, "nag", m, lr, batch_size=200))
            for lr in (0.1, 0.3, 1.0)
        ],
        "MLPClassifier 'adam'": [
            (f"lr={lr}", mlp("adam", learning_rate_init=lr))
            for lr in (0.003, 0.01, 0.03)
        ],
        "MLPClassifier 'sgd'": [
            (f"lr={lr}, Nesterov 0.9", mlp("sgd", learning_rate_init=lr, momentum=0.9))
            for lr in (0.1, 0.3, 1.0)
        ],
        "MLPClassifier 'lbfgs'": [("default", mlp("lbfgs"))],
    }
    if quick:
        grid = {method: configs[1:2] or configs for method, configs in grid.items()}
    rows = []
    for method, configs in grid.items():
        best = None
        for label, make in configs:
            found = time_to_target(X, y, target, make, budget=4096)
            if found is not None and (best is None or found[1] < best[2]):
                best = (label, found[0], found[1])
        rows.append((method, best))
    return {"target": target, "shape": f"{n} × {X.shape[1]} → 64 → 10", "rows": rows}


def peak_memory(estimator, X, y):
    """Peak of the memory allocated during ``fit`` (tracemalloc), in bytes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        tracemalloc.start()
        estimator.fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def memory_case(sizes, dtype):
    """Peak memory of one epoch of 'gd' at each number of rows: ours on one
    thread, ours on the threads in force (one block's buffers and one part's
    gradient per thread), MLPClassifier."""
    rows = []
    for n_samples in sizes:
        X, y = synthetic(n_samples, 784, 10, dtype)
        with threadpool_limits(1, user_api="blas"):
            serial = peak_memory(ours((512,), "gd", 1), X, y)
        threaded = peak_memory(ours((512,), "gd", 1), X, y)
        theirs_peak = peak_memory(theirs((512,), "gd", 1, n_samples), X, y)
        rows.append((n_samples, X.nbytes, serial, threaded, theirs_peak))
    return {"dtype": np.dtype(dtype).name, "rows": rows}


THREAD_COUNTS = (1, 2, 8)


def thread_memory_case(n_samples, dtype=np.float64):
    """Peak memory of one epoch of 'gd' on n x 2000 -> 2000 -> 3 (4 million
    parameters) on 1, 2 and 8 threads: each thread running a part of the
    rows holds a block's buffers and the part's gradient."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_samples, 2000)).astype(dtype)
    y = np.arange(n_samples) % 3
    n_params = ParameterLayout((2000, 2000, 3)).n_params
    rows = []
    for n_threads in THREAD_COUNTS:
        with threadpool_limits(n_threads, user_api="blas"):
            rows.append((n_threads, peak_memory(ours((2000,), "gd", 1), X, y)))
    return {
        "n_samples": n_samples,
        "n_params": n_params,
        "gradient_bytes": n_params * np.dtype(dtype).itemsize,
        "dtype": np.dtype(dtype).name,
        "rows": rows,
    }


# ----------------------------------------------------------------------------
# Report


def git_commit(path):
    """The short commit checked out at ``path``, or None outside git."""
    try:
        return subprocess.run(
            ["git", "-C", str(path), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def machine():
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or cpu
    blas = [
        f"{info.get('internal_api')} {info.get('version')}, kernel "
        f"{info.get('architecture')}, {info.get('num_threads')} threads "
        f"({info.get('threading_layer')})"
        for info in threadpool_info()
        if info["user_api"] == "blas"
    ]
    environment = ", ".join(
        f"{name}={os.environ.get(name, 'unset')}"
        for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS")
    )
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "blas": "; ".join(blas) or "none found by threadpoolctl",
        "environment": environment,
        "versions": (
            f"Python {platform.python_version()}, NumPy {np.__version__}, "
            f"SciPy {scipy.__version__}, scikit-learn {sklearn.__version__}, "
            f"skmlp {skmlp.__version__}"
        ),
    }


def ratio_row(case, solver):
    theirs_time, theirs_spread = case["per_epoch"][("theirs", solver)]
    ours_time, ours_spread = case["per_epoch"][("ours", solver)]
    return (
        f"| {case['name']} | {case['dtype']} | '{solver}' "
        f"| {1e3 * theirs_time:.2f} ({theirs_spread:.0%}) "
        f"| {1e3 * ours_time:.2f} ({ours_spread:.0%}) "
        f"| {ours_time / theirs_time:.2f} |"
    )


def case_a_loops(cases):
    """(solver, timing) of the solver loops measured in case (a)."""
    return [
        (key[1], value)
        for key, value in cases[0]["per_epoch"].items()
        if isinstance(key, tuple) and key[0] == "loop"
    ]


FLOORS = ("floor full", "floor full, 1 BLAS thread", "floor blocks")


def lowest_floor(case):
    """The fastest of the three floors of a case, seconds per step."""
    per_epoch = case["per_epoch"]
    return min(per_epoch[name][0] for name in FLOORS)


def report(
    info,
    cases,
    floors,
    breakdown,
    precision,
    race,
    memory,
    thread_memory,
    started,
    finished,
    args,
):
    """The Markdown report: a user page, so nothing in it is addressed to
    the developers (no commits, no targets)."""
    a, b, c = cases[0], cases[1], cases[-1]
    lines = [
        "## Benchmark results",
        "",
        "Three problems, each with one hidden layer (softplus units in "
        "skmlp, logistic ones in MLPClassifier), trained on the full batch:",
        "",
        f"- (a) Iris, {a['shape']}, standardised: a tiny problem; a timed "
        f"fit is {a['epochs']} iterations;",
        f"- (b) {b['shape']}, synthetic (`make_classification`): a timed fit "
        f"is {b['epochs']} epochs;",
        f"- (c) {c['shape']}, synthetic, the width of MNIST's images: a timed "
        f"fit is {c['epochs']} epochs.",
        "",
        f"Run on {started:%Y-%m-%d %H:%M} UTC, {args.repeats} interleaved repeats"
        f" ({4 * args.repeats} for (a))"
        + (", --quick" if args.quick else "")
        + f", {(finished - started).total_seconds() / 60:.1f} minutes. Each "
        f"timed run of (b) and (c) starts {SETTLE_SECONDS} s after the previous "
        "one, once BLAS threads left spinning by it have gone to sleep.",
        "",
        f"- CPU: {info['cpu']}, {info['cores']} cores",
        f"- BLAS: {info['blas']}",
        f"- Environment: {info['environment']}",
        f"- {info['versions']}",
        f"- Load average (1 min) at the start {args.load[0]:.1f}, at the end "
        f"{os.getloadavg()[0]:.1f}",
        "",
        "### Time per epoch against MLPClassifier",
        "",
        "Full batch; MLPClassifier with logistic units, solver='sgd', "
        "momentum 0 ('gd') or Nesterov 0.9 ('nag'). Milliseconds per epoch, "
        "the median of the repeats, with their spread (max - min) / median "
        "in brackets; the ratio of the two medians comes from the same run. "
        f"For (a), the time of a whole fit of {a['epochs']} iterations "
        f"divided by {a['epochs']}.",
        "",
        "| case | dtype | solver | MLPClassifier ms | skmlp ms "
        "| skmlp / MLPClassifier |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for case in cases:
        for key in case["per_epoch"]:
            if isinstance(key, tuple) and key[0] == "ours":
                lines.append(ratio_row(case, key[1]))
    lines += [
        "",
        f"Where the time of (a) goes: the solver's {a['epochs']} steps on the "
        "objective alone, without the epoch loop around them in the estimator "
        "(validation, snapshots and bookkeeping of each epoch); and "
        "MLPClassifier with its default shuffle=True, which copies the data "
        "every epoch:",
        "",
        "| solver | fit ms/epoch | solver loop alone ms/epoch "
        "| estimator overhead us/epoch | loop alone / MLPClassifier "
        "| MLPClassifier shuffle=True ms/epoch |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for key, (loop_time, _) in case_a_loops(cases):
        per_epoch = a["per_epoch"]
        fit_time = per_epoch[("ours", key)][0]
        theirs_time = per_epoch[("theirs", key)][0]
        shuffled_time = per_epoch[("theirs shuffled", key)][0]
        lines.append(
            f"| '{key}' | {1e3 * fit_time:.3f} | {1e3 * loop_time:.3f} "
            f"| {1e6 * (fit_time - loop_time):.0f} | {loop_time / theirs_time:.2f} "
            f"| {1e3 * shuffled_time:.3f} |"
        )
    lines += [
        "",
        "### Distance from the bare matrix products",
        "",
        "The matrix products of one step and nothing else (the floor under "
        "any implementation): on the full matrices with BLAS's own threads "
        "(what MLPClassifier runs) and with one BLAS thread, and on the "
        "blocks, parts and worker threads of skmlp, each with single-threaded "
        "BLAS. skmlp = one epoch of 'gd' (a whole step: forward, backward, "
        "update), compared with the lowest of the three floors. On a busy "
        "machine BLAS's own threads stall each other, which inflates the "
        "first floor and MLPClassifier; MLPClassifier on one BLAS thread is "
        "shown for that reason. Milliseconds per step; a timed run of a floor "
        "makes as many steps as a fit makes epochs.",
        "",
        "| case | dtype | skmlp | floor: full | floor: full, 1 thread "
        "| floor: blocks | skmlp / lowest floor | MLPClassifier 'gd', "
        "1 thread | skmlp / that |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for case in floors:
        per_epoch = case["per_epoch"]
        ours_time = per_epoch[("ours", "gd")][0]
        full, full_one, blocks = (per_epoch[name][0] for name in FLOORS)
        theirs_one = per_epoch[("theirs, 1 BLAS thread", "gd")][0]
        lines.append(
            f"| {case['name']} | {case['dtype']} | {1e3 * ours_time:.1f} "
            f"| {1e3 * full:.1f} | {1e3 * full_one:.1f} | {1e3 * blocks:.1f} "
            f"| {ours_time / lowest_floor(case):.2f} | {1e3 * theirs_one:.1f} "
            f"| {ours_time / theirs_one:.2f} |"
        )
    lines += [
        "",
        f"Where a block of (b) goes: one block of {breakdown[0]['rows']} rows "
        "on one thread, microseconds. The bare products of a step; skmlp's "
        "whole evaluation (forward, softplus, softmax, loss, backward, "
        "penalty); softplus with its derivative alone (in place, as in the "
        "evaluation); and np.exp followed by np.log alone, the two "
        "transcendental passes of skmlp's softplus (NumPy's np.log1p, the "
        "textbook's, is a scalar loop and several times slower). The last "
        "column is the least evaluation / products could be with these "
        "passes: the products plus those two and nothing else.",
        "",
        "| dtype | products us | evaluation us | evaluation / products "
        "| softplus us | exp + log us | (products + exp + log) / products |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in breakdown:
        us = row["us"]
        lines.append(
            f"| {row['dtype']} | {us['products']:.0f} | {us['evaluation']:.0f} "
            f"| {us['evaluation'] / us['products']:.2f} | {us['softplus']:.0f} "
            f"| {us['exp + log']:.0f} "
            f"| {(us['products'] + us['exp + log']) / us['products']:.2f} |"
        )
    lines += [
        "",
        "### float32 against float64",
        "",
        "skmlp's time per epoch in each precision, from the first table.",
        "",
        "| case | solver | float64 ms | float32 ms | float32 / float64 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, solver, t64, t32 in precision:
        lines.append(
            f"| {name} | '{solver}' | {1e3 * t64:.1f} | {1e3 * t32:.1f} "
            f"| {t32 / t64:.2f} |"
        )
    lines += [
        "",
        f"### Time to reach a training loss of {race['target']} on the digits",
        "",
        f"Standardised digits, {race['shape']}, alpha={ALPHA}; the training "
        "loss is the mean cross-entropy plus alpha / (2 n) * sum ||W||^2 on "
        "the whole training set. The fewest epochs (L-BFGS: iterations) that "
        "reach it, found by doubling and bisection, and the wall time of a "
        "fit of that length (median of 3); each method at the best setting "
        "of its grid. skmlp trains on the full batch ('gd', 'nag', 'lbfgs'), "
        "and on mini-batches of 200 with 'nag'; MLPClassifier uses logistic "
        "units and its default mini-batches of 200 ('adam', 'sgd'), or the "
        "full batch ('lbfgs').",
        "",
        "| method | best setting | epochs | seconds |",
        "| --- | --- | --- | --- |",
    ]
    for method, best in race["rows"]:
        if best is None:
            lines.append(f"| {method} | none reached the target | | |")
        else:
            label, epochs, seconds = best
            lines.append(f"| {method} | {label} | {epochs} | {seconds:.3f} |")
    lines += [
        "",
        "### Peak memory of a fit (n × 784 → 512 → 10)",
        "",
        f"One epoch of 'gd', {memory['dtype']}; the peak of the memory "
        "allocated during fit (tracemalloc), not counting the input, which "
        "exists before. skmlp keeps the buffers of one block and the gradient "
        "of a part per thread, and vectors of n numbers (labels, weights); "
        "MLPClassifier keeps the activations and deltas of all rows.",
        "",
        "| n_samples | input MB | skmlp, 1 thread MB | skmlp, threaded MB "
        "| MLPClassifier MB |",
        "| --- | --- | --- | --- | --- |",
    ]
    for n_samples, input_bytes, serial, threaded, theirs_peak in memory["rows"]:
        lines.append(
            f"| {n_samples} | {input_bytes / 1e6:.0f} | {serial / 1e6:.1f} "
            f"| {threaded / 1e6:.1f} | {theirs_peak / 1e6:.0f} |"
        )
    ours_growth, theirs_growth = growth_per_row(memory)
    lines += [
        "",
        f"Growth per extra row: skmlp (1 thread) {ours_growth:.0f} bytes, "
        f"MLPClassifier {theirs_growth:.0f} bytes (a row of the 512-wide "
        "hidden layer is 4096 bytes in float64).",
        "",
        "### Peak memory of a fit against the number of threads",
        "",
        f"One epoch of 'gd' on {thread_memory['n_samples']} × 2000 → 2000 → 3 "
        f"({thread_memory['n_params'] / 1e6:.1f} million parameters, a gradient "
        f"of {thread_memory['gradient_bytes'] / 1e6:.0f} MB in "
        f"{thread_memory['dtype']}), at each BLAS thread limit; the peak of the "
        "memory allocated during fit (tracemalloc), not counting the input. "
        "Each thread that runs a part of the rows holds the buffers of one "
        "block (with room for a block's gradient) and the gradient of its "
        "part, and one more part's gradient waits in the queue; 'in "
        "gradients' is the memory more than on 1 thread in gradients' worth.",
        "",
        "| threads | peak MB | more than on 1 thread, MB | in gradients |",
        "| --- | --- | --- | --- |",
    ]
    serial_peak = thread_memory["rows"][0][1]
    for n_threads, peak in thread_memory["rows"]:
        extra = peak - serial_peak
        lines.append(
            f"| {n_threads} | {peak / 1e6:.0f} | {extra / 1e6:.0f} "
            f"| {extra / thread_memory['gradient_bytes']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def growth_per_row(memory):
    """Bytes of peak memory per extra row: skmlp on 1 thread, MLPClassifier."""
    (
        (n_small, _, ours_small, _, theirs_small),
        (n_large, _, ours_large, _, theirs_large),
    ) = memory["rows"]
    extra = n_large - n_small
    return (ours_large - ours_small) / extra, (theirs_large - theirs_small) / extra


def baseline_report(cases, baseline):
    """Before and after: the baseline's estimator against the current one,
    from the same interleaved repeats. For the developers, so it names
    the commits; it goes into benchmarks/results.md, not the docs."""
    current = git_commit(ROOT) or "unknown commit"
    lines = [
        "## Before and after",
        "",
        f"Baseline: the estimator of {baseline['path']} "
        f"({baseline['commit'] or 'not a git checkout'}), loaded as the "
        f"module `{baseline['module']}`; current: {ROOT} ({current}). Each "
        "repeat runs MLPClassifier, the current code and the baseline in turn, "
        "in one process. Milliseconds per epoch (medians), then ratios of the "
        "medians, and the largest difference between the weights the two "
        "fits end with.",
        "",
        "| case | dtype | solver | MLPClassifier ms | baseline ms | current ms "
        "| baseline / current | current / MLPClassifier "
        "| baseline / MLPClassifier | max weight difference |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for case in cases:
        per_epoch = case["per_epoch"]
        for key in per_epoch:
            if not (isinstance(key, tuple) and key[0] == "baseline"):
                continue
            solver = key[1]
            theirs_time = per_epoch[("theirs", solver)][0]
            base = per_epoch[("baseline", solver)][0]
            now = per_epoch[("ours", solver)][0]
            lines.append(
                f"| {case['name']} | {case['dtype']} | '{solver}' "
                f"| {1e3 * theirs_time:.2f} | {1e3 * base:.2f} | {1e3 * now:.2f} "
                f"| {base / now:.2f} | {now / theirs_time:.2f} "
                f"| {base / theirs_time:.2f} "
                f"| {case['weight_change'][solver]:.1e} |"
            )
    lines += [
        "",
        "Against the lowest floor of the same case ('gd'):",
        "",
        "| case | dtype | lowest floor ms | baseline / floor | current / floor |",
        "| --- | --- | --- | --- | --- |",
    ]
    for case in cases:
        per_epoch = case["per_epoch"]
        if ("baseline", "gd") in per_epoch and "floor blocks" in per_epoch:
            floor = lowest_floor(case)
            lines.append(
                f"| {case['name']} | {case['dtype']} | {1e3 * floor:.1f} "
                f"| {per_epoch[('baseline', 'gd')][0] / floor:.2f} "
                f"| {per_epoch[('ours', 'gd')][0] / floor:.2f} |"
            )
    return "\n".join(lines) + "\n"


# The ratios issue 11 asks of the current code (skmlp / MLPClassifier per
# epoch, float32 / float64, skmlp / the lowest floor).
TARGET_VS_MLP = {"(a)": 0.5, "(b)": 0.4}
TARGET_FLOAT32 = 0.6
TARGET_FLOOR = 1.35


def targets(cases, floors, precision):
    """The developers' targets, met or not, for the console."""

    def verdict(ok):
        return "met" if ok else "NOT MET"

    lines = ["Targets (issue 11), from this run:"]
    for case in cases:
        limit = TARGET_VS_MLP.get(case["name"][:3])
        if limit is None or case["dtype"] != "float64":
            continue
        for solver in ("gd", "nag"):
            ratio = (
                case["per_epoch"][("ours", solver)][0]
                / case["per_epoch"][("theirs", solver)][0]
            )
            lines.append(
                f"  {case['name']} '{solver}': skmlp / MLPClassifier "
                f"{ratio:.2f} <= {limit}: {verdict(ratio <= limit)}"
            )
    for case in floors:
        per_epoch = case["per_epoch"]
        ratio = per_epoch[("ours", "gd")][0] / lowest_floor(case)
        text = (
            f"  {case['name']} {case['dtype']}: skmlp / lowest floor "
            f"{ratio:.2f} <= {TARGET_FLOOR}: {verdict(ratio <= TARGET_FLOOR)}"
        )
        if ("baseline", "gd") in per_epoch:
            before = per_epoch[("baseline", "gd")][0] / lowest_floor(case)
            text += (
                f"; no slower than the baseline ({before:.2f}): "
                f"{verdict(ratio <= before)}"
            )
        elif case["name"].startswith("(b)"):
            text += "; no slower than before: run with --baseline"
        lines.append(text)
    for name, solver, t64, t32 in precision:
        ratio = t32 / t64
        lines.append(
            f"  {name} '{solver}': float32 / float64 {ratio:.2f} "
            f"<= {TARGET_FLOAT32}: {verdict(ratio <= TARGET_FLOAT32)}"
        )
    return "\n".join(lines) + "\n"


def update_docs(text):
    page = DOCS.read_text()
    head, rest = page.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOCS.write_text(f"{head}{BEGIN}\n\n{text}\n{END}{tail}")


BASELINE_MODULE = "skmlp_baseline"


def load_baseline(path):
    """The skmlp package of the checkout at ``path``, imported under another
    name beside the current one.

    Registered in ``sys.modules`` before it runs, so that its relative
    imports resolve inside it rather than to the current package.
    """
    package = Path(path).resolve() / "skmlp"
    spec = importlib.util.spec_from_file_location(
        BASELINE_MODULE,
        package / "__init__.py",
        submodule_search_locations=[str(package)],
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[BASELINE_MODULE] = module
    spec.loader.exec_module(module)
    return {
        "path": str(Path(path).resolve()),
        "commit": git_commit(path),
        "module": BASELINE_MODULE,
        "estimator": module.SoftplusMLPClassifier,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="smaller (c), fewer repeats"
    )
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results.md"
    )
    parser.add_argument(
        "--update-docs",
        action="store_true",
        help=f"also put the report into {DOCS.relative_to(ROOT)}",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="PATH",
        help="a checkout of another commit of skmlp, timed beside this one "
        "on (a) and (b)",
    )
    args = parser.parse_args(argv)
    if args.baseline is not None and not (args.baseline / "skmlp").is_dir():
        parser.error(f"--baseline: no skmlp package in {args.baseline}")
    if args.repeats is None:
        args.repeats = 3 if args.quick else 5
    args.load = os.getloadavg()
    started = datetime.datetime.now(datetime.timezone.utc)
    info = machine()
    print(info, file=sys.stderr)
    baseline = None if args.baseline is None else load_baseline(args.baseline)
    baseline_estimator = None if baseline is None else baseline["estimator"]

    X_iris, y_iris = load_iris(return_X_y=True)
    X_iris = StandardScaler().fit_transform(X_iris)
    cases = []
    floors = []
    precision = []

    def log(case):
        print(case["name"], case["dtype"], case["per_epoch"], file=sys.stderr)

    case_a = epoch_case(
        "(a) Iris 150 × 4 → 16 → 3",
        X_iris,
        y_iris,
        (16,),
        ("gd", "nag"),
        epochs=350,
        # Single-threaded fits of 20-50 ms: many repeats are cheap, and no
        # pause (products this small never start BLAS's threads, and a CPU
        # that slept would slow the shorter fit, ours, the most).
        repeats=4 * args.repeats,
        floor=False,
        loop=True,
        settle=0.0,
        baseline=baseline_estimator,
    )
    cases.append(case_a)
    log(case_a)

    by_dtype = {}
    for dtype in (np.float64, np.float32):
        X, y = synthetic(20000, 100, 3, dtype)
        case = epoch_case(
            "(b) 20000 × 100 → 256 → 3",
            X,
            y,
            (256,),
            ("gd", "nag"),
            epochs=5,
            repeats=args.repeats,
            floor=True,
            baseline=baseline_estimator,
        )
        cases.append(case)
        floors.append(case)
        by_dtype[dtype] = case
        log(case)
    for solver in ("gd", "nag"):
        precision.append(
            (
                "(b) 20000 × 100 → 256 → 3",
                solver,
                by_dtype[np.float64]["per_epoch"][("ours", solver)][0],
                by_dtype[np.float32]["per_epoch"][("ours", solver)][0],
            )
        )

    n_c = 20000 if args.quick else 100000
    by_dtype = {}
    for dtype in (np.float64, np.float32):
        X, y = synthetic(n_c, 784, 10, dtype)
        case = epoch_case(
            f"(c) {n_c} × 784 → 512 → 10",
            X,
            y,
            (512,),
            ("gd",),
            epochs=2 if args.quick else 3,
            repeats=max(2, args.repeats - 2),
            floor=True,
        )
        del X
        cases.append(case)
        floors.append(case)
        by_dtype[dtype] = case
        log(case)
    precision.append(
        (
            f"(c) {n_c} × 784 → 512 → 10",
            "gd",
            by_dtype[np.float64]["per_epoch"][("ours", "gd")][0],
            by_dtype[np.float32]["per_epoch"][("ours", "gd")][0],
        )
    )

    breakdown = [
        block_breakdown(dtype, args.repeats) for dtype in (np.float64, np.float32)
    ]
    print(breakdown, file=sys.stderr)
    race = digits_race(target=0.05, quick=args.quick)
    print(race, file=sys.stderr)
    sizes = (5000, 20000) if args.quick else (25000, 100000)
    memory = memory_case(sizes, np.float64)
    print(memory, file=sys.stderr)
    thread_memory = thread_memory_case(4096 if args.quick else 16384)
    print(thread_memory, file=sys.stderr)

    finished = datetime.datetime.now(datetime.timezone.utc)
    text = report(
        info,
        cases,
        floors,
        breakdown,
        precision,
        race,
        memory,
        thread_memory,
        started,
        finished,
        args,
    )
    if args.update_docs:
        update_docs(text)
    if baseline is not None:
        text += "\n" + baseline_report(cases, baseline)
    args.output.write_text(text)
    print(text)
    print(targets(cases, floors, precision))


if __name__ == "__main__":
    main()
