"""NAG's safeguard with the automatic step: docs/solver_measurements.md,
"NAG's safeguard".

The case that called for it: 100 standard normal rows of 5 features with 50
classes drawn at random (seeds 0 to 5), fitted by ``SoftplusMLPClassifier``
at its defaults but ``solver='nag'`` and ``learning_rate_init='auto'``, with
``restart='gradient'`` and ``restart=None``. For each variant of the
safeguard, the largest ratio of a training loss to the lowest one before it,
the training accuracy, the final loss, the iterations and the steps taken
again:

- ``off``: no safeguard (``RUNAWAY_FACTOR`` infinite), as before it;
- ``trials=0`` to ``trials=3``: the safeguard, keeping the momentum for that
  many trials before dropping it (``MOMENTUM_TRIALS``; 2 is the library's).

The variants are set on the module's constants for the run, which is why
this is a study and not an option.

``--small-sets``: what the safeguard changes on the small sets of the
automatic step's study (Iris, wine, breast cancer, digits, standardised; 16
softplus units, 350 NAG steps with 'auto', alpha 0 and 1e-4, both
restarts): the final training loss without and with it, and its retakes.

Run from the repository root::

    PYTHONPATH=$PWD python benchmarks/nag_safeguard_study.py
    PYTHONPATH=$PWD python benchmarks/nag_safeguard_study.py --small-sets

Each takes a few seconds.
"""

import argparse
import math
import platform
import warnings

import numpy as np
import sklearn
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from skmlp import SoftplusMLPClassifier
from skmlp._solvers import first_order

VARIANTS = {
    "off": (math.inf, first_order.MOMENTUM_TRIALS),
    "trials=0": (first_order.RUNAWAY_FACTOR, 0),
    "trials=1": (first_order.RUNAWAY_FACTOR, 1),
    "trials=2": (first_order.RUNAWAY_FACTOR, 2),
    "trials=3": (first_order.RUNAWAY_FACTOR, 3),
}


def many_classes(seed):
    rng = np.random.RandomState(seed)
    return rng.standard_normal((100, 5)), rng.randint(50, size=100)


def fit_quietly(clf, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y)


def run(seed, restart):
    X, y = many_classes(seed)
    clf = SoftplusMLPClassifier(
        learning_rate_init="auto", solver="nag", restart=restart, random_state=seed
    )
    fit_quietly(clf, X, y)
    losses = np.asarray(clf.loss_curve_)
    rise = (losses[1:] / np.minimum.accumulate(losses)[:-1]).max()
    return {
        "rise": rise,
        "accuracy": clf.score(X, y),
        "loss": losses[-1],
        "n_iter": clf.n_iter_,
        "retakes": clf._solver.n_retakes,
    }


def small_sets():
    sets = {
        "iris": load_iris,
        "wine": load_wine,
        "breast_cancer": load_breast_cancer,
        "digits": load_digits,
    }
    print("| set | alpha | restart | loss without | loss with | retakes |")
    print("|---|---|---|---|---|---|")
    saved = first_order.RUNAWAY_FACTOR
    try:
        for name, load in sets.items():
            X, y = load(return_X_y=True)
            X = StandardScaler().fit_transform(X)
            for alpha in [0.0, 1e-4]:
                for restart in [None, "gradient"]:
                    results = []
                    # Not infinite: with alpha=0 the best loss may be 0.
                    for factor in [1e300, saved]:
                        first_order.RUNAWAY_FACTOR = factor
                        clf = fit_quietly(
                            SoftplusMLPClassifier(
                                (16,),
                                solver="nag",
                                learning_rate_init="auto",
                                restart=restart,
                                alpha=alpha,
                                random_state=0,
                                tol=0.0,
                                n_iter_no_change=350,
                                max_iter=350,
                            ),
                            X,
                            y,
                        )
                        results.append(clf.loss_curve_[-1])
                    print(
                        f"| {name} | {alpha:g} | {restart} | {results[0]:.4g} "
                        f"| {results[1]:.4g} | {clf._solver.n_retakes} |"
                    )
    finally:
        first_order.RUNAWAY_FACTOR = saved


def many_classes_table():
    saved = first_order.RUNAWAY_FACTOR, first_order.MOMENTUM_TRIALS
    print(
        "| safeguard | restart | largest rise over the best | training accuracy "
        "| final loss | iterations | retakes |"
    )
    print("|---|---|---|---|---|---|---|")
    try:
        for name, (factor, trials) in VARIANTS.items():
            first_order.RUNAWAY_FACTOR = factor
            first_order.MOMENTUM_TRIALS = trials
            for restart in ["gradient", None]:
                rows = [run(seed, restart) for seed in range(6)]

                def span(key, fmt, rows=rows):
                    values = [row[key] for row in rows]
                    low, high = min(values), max(values)
                    if low == high:
                        return format(low, fmt)
                    return f"{low:{fmt}} to {high:{fmt}}"

                reached = sum(row["accuracy"] == 1.0 for row in rows)
                print(
                    f"| {name} | {restart} | {span('rise', '.3f')} "
                    f"| {span('accuracy', '.2f')} (1.0 on {reached} of 6) "
                    f"| {span('loss', '.4f')} | {span('n_iter', 'd')} "
                    f"| {span('retakes', 'd')} |"
                )
    finally:
        first_order.RUNAWAY_FACTOR, first_order.MOMENTUM_TRIALS = saved


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small-sets", action="store_true")
    args = parser.parse_args()
    print(
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"scikit-learn {sklearn.__version__}, {platform.machine()}"
    )
    small_sets() if args.small_sets else many_classes_table()


if __name__ == "__main__":
    main()
