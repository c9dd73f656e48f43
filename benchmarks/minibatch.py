"""Time per epoch on mini-batches (and the full batch) against MLPClassifier
and a plain PyTorch loop, with the number of cores each keeps busy.

Cases, each in float32 and float64:

- narrow: 60000 x 50 -> 100 -> 5, batches of 200 rows;
- wide: 20000 x 784 -> 512 -> 10, batches of 256 rows;
- full batch: 20000 x 100 -> 256 -> 3.

Contenders, interleaved within each repeat (each repeat runs every
contender of a case once, in turn):

- ``skmlp``: ``SoftplusMLPClassifier(solver='nag', momentum=0.9)`` with a
  fixed step on mini-batches (Nesterov's momentum, as the others), plain
  ``'gd'`` on the full batch; on every core (the BLAS thread limit), and
  again on one thread (``threadpool_limits(1)``);
- ``MLPClassifier``: logistic units (it has no softplus), ``solver='sgd'``,
  Nesterov's momentum 0.9 on mini-batches, none on the full batch;
- ``PyTorch loop``, when torch is installed: ``Linear``, ``Softplus``,
  ``Linear``, ``CrossEntropyLoss`` and ``torch.optim.SGD`` (Nesterov 0.9 on
  mini-batches), the batches drawn by ``torch.randperm``: the floor of what
  a torch user writes, on as many threads as the machine has cores. torch
  is in no extra of the package: install it beside it to time it;
- ``skorch``, when skorch is installed too: its ``NeuralNetClassifier``
  around the same network and optimizer, in float32.

"Cores busy" is the process's CPU time over the wall time of a fit (BLAS
threads that spin while they wait count as busy). Times are the fastest of
the repeats, in milliseconds per epoch.

Run from the repository root::

    python benchmarks/minibatch.py                 # about 8 minutes on 2 cores
    python benchmarks/minibatch.py --update-docs   # also into docs/performance.md
"""

import argparse
import datetime
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

# The data, skmlp's estimator, the pause between timed runs and the
# machine's description are those of the main benchmark (this directory is
# on the path of a script).
from benchmark import ALPHA, SETTLE_SECONDS, fit_runner, ours, synthetic
from benchmark import machine as machine_info
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "performance.md"
BEGIN = "<!-- mini-batch benchmark results: begin -->"
END = "<!-- mini-batch benchmark results: end -->"
LEARNING_RATE = 0.01
MOMENTUM = 0.9
# name, rows, features, hidden units, classes, batch size (None: full), epochs
CASES = [
    ("narrow", 60000, 50, 100, 5, 200, 3),
    ("wide", 20000, 784, 512, 10, 256, 2),
    ("full batch", 20000, 100, 256, 3, None, 5),
]

try:
    import torch
except ImportError:  # torch is a baseline only, never a dependency
    torch = None
try:
    import skorch
except ImportError:  # nor is skorch
    skorch = None


def skmlp_runner(X, y, hidden, batch_size, epochs, threads=None):
    """benchmark.py's estimator, with Nesterov's constant momentum on
    mini-batches and plain gradient descent on the full batch."""
    solver = "gd" if batch_size is None else "nag"
    estimator = ours((hidden,), solver, epochs, LEARNING_RATE, batch_size)
    estimator.set_params(momentum=MOMENTUM)
    return fit_runner(estimator, X, y, blas_threads=threads)


def sklearn_runner(X, y, hidden, batch_size, epochs):
    full = batch_size is None

    def run():
        estimator = MLPClassifier(
            hidden_layer_sizes=(hidden,),
            activation="logistic",
            solver="sgd",
            momentum=0.0 if full else MOMENTUM,
            nesterovs_momentum=not full,
            batch_size=X.shape[0] if full else batch_size,
            learning_rate_init=LEARNING_RATE,
            alpha=ALPHA,
            max_iter=epochs,
            tol=0.0,
            n_iter_no_change=epochs,
            shuffle=not full,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(X, y)

    return run


def torch_runner(X, y, hidden, batch_size, epochs, n_classes):
    dtype = {np.float32: torch.float32, np.float64: torch.float64}[X.dtype.type]
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    n_samples = X.shape[0]
    full = batch_size is None

    def run():
        torch.manual_seed(0)
        model = torch.nn.Sequential(
            torch.nn.Linear(X.shape[1], hidden),
            torch.nn.Softplus(),
            torch.nn.Linear(hidden, n_classes),
        ).to(dtype)
        optimizer = torch.optim.SGD(
            model.parameters(),
            lr=LEARNING_RATE,
            momentum=0.0 if full else MOMENTUM,
            nesterov=not full,
        )
        loss_function = torch.nn.CrossEntropyLoss()
        generator = torch.Generator().manual_seed(0)
        for _ in range(epochs):
            if full:
                batches = [(X_t, y_t)]
            else:
                order = torch.randperm(n_samples, generator=generator)
                batches = (
                    (
                        X_t[order[start : start + batch_size]],
                        y_t[order[start : start + batch_size]],
                    )
                    for start in range(0, n_samples, batch_size)
                )
            for X_batch, y_batch in batches:
                optimizer.zero_grad()
                loss = loss_function(model(X_batch), y_batch)
                loss.backward()
                optimizer.step()

    return run


def skorch_runner(X, y, hidden, batch_size, epochs, n_classes):
    """skorch's ``NeuralNetClassifier`` around the PyTorch loop's network and
    optimizer: what a scikit-learn user of PyTorch fits (in float32 only,
    the dtype of the network's weights)."""
    full = batch_size is None

    class Network(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.Sequential(
                torch.nn.Linear(X.shape[1], hidden),
                torch.nn.Softplus(),
                torch.nn.Linear(hidden, n_classes),
            )

        def forward(self, X):
            return self.layers(X)

    def run():
        torch.manual_seed(0)
        net = skorch.NeuralNetClassifier(
            Network,
            criterion=torch.nn.CrossEntropyLoss,
            optimizer=torch.optim.SGD,
            lr=LEARNING_RATE,
            optimizer__momentum=0.0 if full else MOMENTUM,
            optimizer__nesterov=not full,
            batch_size=X.shape[0] if full else batch_size,
            max_epochs=epochs,
            train_split=None,
            iterator_train__shuffle=not full,
            verbose=0,
        )
        net.fit(X, y)

    return run


def timed(run):
    """Wall time and cores kept busy (CPU time over wall time) of a run."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu / wall


def measure(case, dtype, repeats):
    name, n_samples, n_features, hidden, n_classes, batch_size, epochs = case
    X, y = synthetic(n_samples, n_features, n_classes, dtype)
    contenders = {
        "skmlp": skmlp_runner(X, y, hidden, batch_size, epochs),
        "skmlp, 1 thread": skmlp_runner(X, y, hidden, batch_size, epochs, threads=1),
        "MLPClassifier": sklearn_runner(X, y, hidden, batch_size, epochs),
    }
    if torch is not None:
        contenders["PyTorch loop"] = torch_runner(
            X, y, hidden, batch_size, epochs, n_classes
        )
    if skorch is not None and X.dtype == np.float32:
        contenders["skorch"] = skorch_runner(
            X, y, hidden, batch_size, epochs, n_classes
        )
    runs = {contender: [] for contender in contenders}
    for _ in range(repeats):
        for contender, run in contenders.items():
            time.sleep(SETTLE_SECONDS)
            runs[contender].append(timed(run))
    results = {}
    for contender, measured in runs.items():
        wall, busy = min(measured)
        results[contender] = {"ms": 1000 * wall / epochs, "busy": busy}
    shape = f"{n_samples} × {n_features} → {hidden} → {n_classes}"
    batch = "full batch" if batch_size is None else f"batch {batch_size}"
    return {
        "case": name,
        "label": f"{name}: {shape}, {batch}",
        "dtype": np.dtype(dtype).name,
        "results": results,
    }


def machine():
    """The machine and the versions, as benchmark.py reports them, and those
    of the baselines that ran."""
    info = machine_info()
    text = (
        f"{info['cpu']}, {info['cores']} cores; BLAS {info['blas']}; {info['versions']}"
    )
    if torch is not None:
        text += f", PyTorch {torch.__version__} ({torch.get_num_threads()} threads)"
    if skorch is not None:
        text += f", skorch {skorch.__version__}"
    return text


def report(measurements, started, repeats):
    contenders = ["skmlp", "skmlp, 1 thread", "MLPClassifier"]
    if torch is not None:
        contenders.append("PyTorch loop")
    if skorch is not None:
        contenders.append("skorch")
    lines = [
        f"Measured {started:%Y-%m-%d} on {machine()}; the fastest of {repeats} "
        "interleaved fits, milliseconds per epoch (cores kept busy).",
        "",
        "| case | dtype | " + " | ".join(contenders) + " |",
        "|---|---|" + "---:|" * len(contenders),
    ]
    for m in measurements:
        cells = [
            f"{m['results'][c]['ms']:.0f} ({m['results'][c]['busy']:.2f})"
            if c in m["results"]
            else "–"
            for c in contenders
        ]
        lines.append(f"| {m['label']} | {m['dtype']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Ratios of the times per epoch (below 1: skmlp is faster):",
        "",
        "| case | dtype | skmlp / MLPClassifier | skmlp / PyTorch loop "
        "| 1 thread / all threads |",
        "|---|---|---:|---:|---:|",
    ]
    for m in measurements:
        r = m["results"]
        torch_ratio = (
            f"{r['skmlp']['ms'] / r['PyTorch loop']['ms']:.2f}"
            if "PyTorch loop" in r
            else "–"
        )
        lines.append(
            f"| {m['label']} | {m['dtype']} "
            f"| {r['skmlp']['ms'] / r['MLPClassifier']['ms']:.2f} "
            f"| {torch_ratio} "
            f"| {r['skmlp, 1 thread']['ms'] / r['skmlp']['ms']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def update_docs(text):
    page = DOCS.read_text()
    start, stop = page.index(BEGIN) + len(BEGIN), page.index(END)
    DOCS.write_text(page[:start] + "\n\n" + text + "\n" + page[stop:])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--cases",
        nargs="+",
        default=[case[0] for case in CASES],
        choices=[case[0] for case in CASES],
    )
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "minibatch_results.md"
    )
    parser.add_argument(
        "--update-docs",
        action="store_true",
        help=f"also put the report into {DOCS.relative_to(ROOT)}",
    )
    args = parser.parse_args(argv)
    if torch is not None:
        torch.set_num_threads(len(os.sched_getaffinity(0)))
    started = datetime.datetime.now(datetime.timezone.utc)
    print(machine(), file=sys.stderr)
    measurements = []
    for case in CASES:
        if case[0] not in args.cases:
            continue
        for dtype in (np.float32, np.float64):
            measurement = measure(case, dtype, args.repeats)
            print(measurement, file=sys.stderr)
            measurements.append(measurement)
    text = report(measurements, started, args.repeats)
    if args.update_docs:
        update_docs(text)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
