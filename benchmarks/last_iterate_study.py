"""The iterate that ends a call: docs/solver_measurements.md, "The iterate
that ends a call".

The adaptive step's safeguard compares the loss of the point where a step
takes its gradient (NAG's look-ahead point ``y_k``, GD's iterate) with the
best before it. The iterate ``x_k`` that a step leaves is looked at by the
next step only, so the one that ends a call was kept unlooked at, until the
estimator took the next step's evaluation and safeguard at the end of each
call (``_Solver.look_ahead``).

This study wraps the solvers' ``step`` (which is why it is a study) to
compute, after every step of default-sized fits (200 iterations at most,
``tol=1e-4``), the loss of ``x_k`` over the best loss before it, and whether
the next step took its step again. Sets: Iris, Wine, breast cancer, digits,
1000 moons, 50 random classes on 100 rows (seeds 0 and 3) for the
classifier; diabetes, Friedman #1 (2000 rows), and 60 rows of Poisson counts
with one and two outputs for the regressor; standardised (the counts' rows
are standard normal); ``random_state`` 0 to 2; the defaults, ``solver='gd'``,
``momentum=0.9`` and ``restart=None``.

Run from the repository root (a few minutes)::

    PYTHONPATH=$PWD python benchmarks/last_iterate_study.py
"""

import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
    make_friedman1,
    make_moons,
)
from sklearn.preprocessing import StandardScaler

from skmlp import SoftplusMLPClassifier, SoftplusMLPRegressor
from skmlp._solvers import first_order

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fitting import many_classes  # noqa: E402

CONFIGS = {
    "defaults": {},
    "solver='gd'": {"solver": "gd"},
    "momentum=0.9": {"momentum": 0.9},
    "restart=None": {"restart": None},
}


def _poisson(n_outputs):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4))
    coef = rng.normal(scale=0.5, size=(4, n_outputs))
    y = rng.poisson(np.exp(X @ coef + 0.5)).astype(float)
    return X, (y.ravel() if n_outputs == 1 else y)


def _sets():
    scaled = StandardScaler().fit_transform
    for name, (X, y) in [
        ("iris", load_iris(return_X_y=True)),
        ("wine", load_wine(return_X_y=True)),
        ("breast_cancer", load_breast_cancer(return_X_y=True)),
        ("digits", load_digits(return_X_y=True)),
        ("moons", make_moons(1000, noise=0.3, random_state=0)),
        ("50 classes, seed 0", many_classes(0)),
        ("50 classes, seed 3", many_classes(3)),
    ]:
        yield name, SoftplusMLPClassifier, scaled(X), y, {}
    for name, (X, y) in [
        ("diabetes", load_diabetes(return_X_y=True)),
        ("friedman1", make_friedman1(2000, random_state=0)),
    ]:
        yield name, SoftplusMLPRegressor, scaled(X), y, {}
    for n_outputs in (1, 2):
        X, y = _poisson(n_outputs)
        yield (
            f"poisson, {n_outputs} output(s)",
            SoftplusMLPRegressor,
            X,
            y,
            {"loss": "poisson"},
        )


def _recording(records):
    """Wrap the solvers' ``step`` to append ``[L(x_k) / best, retaken next]``."""

    def wrap(cls):
        step = cls.step

        def recorded(self, theta, objective):
            before = self.n_retakes
            loss = step(self, theta, objective)
            if records:
                records[-1][1] = self.n_retakes > before
            if self.best_loss:
                with np.errstate(all="ignore"):
                    ratio = objective.value(theta) / self.best_loss
                records.append([ratio, False])
            return loss

        cls.step = recorded

    wrap(first_order.NesterovAcceleratedGradient)
    wrap(first_order.GradientDescent)


def main():
    records = []
    _recording(records)
    warnings.simplefilter("ignore")
    print(
        "| settings | steps | x_k above 1.1 x best | above 1.5 | above 4 | "
        "largest | taken again by the next step |"
    )
    print("|---|---|---|---|---|---|---|")
    for config, params in CONFIGS.items():
        ratios, next_retook = [], []
        for _, estimator, X, y, extra in _sets():
            for seed in range(3):
                records.clear()
                estimator(random_state=seed, **params, **extra).fit(X, y)
                ratios += [r for r, _ in records]
                next_retook += [n for _, n in records]
        ratios, next_retook = np.array(ratios), np.array(next_retook)
        above = ratios > 1.1
        print(
            f"| {config} | {len(ratios)} | {above.sum()} | {(ratios > 1.5).sum()} "
            f"| {(ratios > 4).sum()} | {np.nanmax(ratios):.2f} "
            f"| {next_retook[above].sum()} of {above.sum()} |"
        )


if __name__ == "__main__":
    main()
