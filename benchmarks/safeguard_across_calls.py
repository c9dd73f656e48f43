"""NAG's safeguard across ``partial_fit`` calls on other rows:
docs/solver_measurements.md, "NAG's safeguard across calls".

At the first step of a call on other rows, the record the safeguard compares
with is the loss of the last point on the new rows, and the factor is
``NEW_OBJECTIVE_RUNAWAY_FACTOR``. This study sets that factor on the module
for the run (which is why it is a study and not an option) and measures, for
each value, with NAG and ``learning_rate_init='auto'``:

- **noise**: i.i.d. chunk streams, where a step need never be taken again.
  ``make_classification(6000, 20 features, 10 informative, 3 classes)`` and
  ``make_friedman1(6000)``, standardised, seeds 0 to 2, chunks of 250 of the
  first 5000 rows for 5 passes, ``momentum='auto'`` and 0.9 (1200 calls in
  all): the steps taken again, and the mean held-out score (accuracy, R²) on
  the last 1000 rows;
- **run-away**: a Poisson stream whose targets jump, where the steps do run
  away. Chunks of 50 standard normal rows of 5 features, counts of mean
  ``m exp(0.3 x_1)`` with ``m = 0.5`` in the first chunk and 5 after it, 40
  calls, 16 units, ``momentum=0.9``, seeds 0 to 4: the fits that diverged,
  and the highest loss of the others.

``inf`` is no record at all, as before the record: a stream of new chunks
then had no safeguard.

Calls on other rows in memory have been chunks since (their ``'auto'``
backtracks as on mini-batches; docs/solver_measurements.md, "Streams of
chunks"): the study leaves its rows without a fingerprint, as rows on a Dask
cluster are, whose calls still take the adaptive step and this safeguard.

Run from the repository root (a minute or two)::

    PYTHONPATH=$PWD python benchmarks/safeguard_across_calls.py
"""

import math
import warnings

import numpy as np
from sklearn.datasets import make_classification, make_friedman1
from sklearn.preprocessing import StandardScaler

from skmlp import DivergenceError, SoftplusMLPClassifier, SoftplusMLPRegressor
from skmlp._solvers import first_order
from skmlp._training import loop

# Every call a full batch, as for rows without a fingerprint (the docstring).
loop._rows_fingerprint = lambda objective: ""

FACTORS = (math.inf, 1.1, 2.0, 4.0, 8.0)


def noise():
    retakes = calls = 0
    scores = []
    for seed in range(3):
        for estimator in (SoftplusMLPClassifier, SoftplusMLPRegressor):
            if estimator is SoftplusMLPClassifier:
                X, y = make_classification(
                    6000, 20, n_informative=10, n_classes=3, random_state=seed
                )
                extra = {"classes": [0, 1, 2]}
            else:
                X, y = make_friedman1(6000, random_state=seed)
                extra = {}
            X = StandardScaler().fit_transform(X)
            for momentum in ("auto", 0.9):
                model = estimator(
                    momentum=momentum, learning_rate_init="auto", random_state=seed
                )
                for _ in range(5):
                    for start in range(0, 5000, 250):
                        rows = slice(start, start + 250)
                        model.partial_fit(X[rows], y[rows], **extra)
                        calls += 1
                retakes += model._solver.n_retakes
                scores.append(model.score(X[5000:], y[5000:]))
    return retakes, calls, float(np.mean(scores))


def runaway():
    diverged = 0
    peaks = []
    for seed in range(5):
        rng = np.random.RandomState(seed)
        model = SoftplusMLPRegressor(
            loss="poisson",
            momentum=0.9,
            learning_rate_init="auto",
            hidden_layer_sizes=(16,),
            random_state=seed,
        )
        try:
            for call in range(40):
                X = rng.randn(50, 5)
                mean = 0.5 if call == 0 else 5.0
                model.partial_fit(X, rng.poisson(mean * np.exp(0.3 * X[:, 0])))
        except DivergenceError:
            diverged += 1
        else:
            peaks.append(max(model.loss_curve_))
    return diverged, peaks


def main():
    warnings.simplefilter("ignore")  # ConvergenceWarning of short streams
    saved = first_order.NEW_OBJECTIVE_RUNAWAY_FACTOR
    print(
        "| factor | steps taken again (noise) | mean held-out score (noise) "
        "| diverged (run-away) | highest loss of the others |"
    )
    print("|---|---|---|---|---|")
    try:
        for factor in FACTORS:
            first_order.NEW_OBJECTIVE_RUNAWAY_FACTOR = factor
            retakes, calls, score = noise()
            diverged, peaks = runaway()
            highest = f"{max(peaks):.1f}" if peaks else "-"
            print(
                f"| {factor:g} | {retakes} of {calls} calls | {score:.4f} "
                f"| {diverged} of 5 | {highest} |"
            )
    finally:
        first_order.NEW_OBJECTIVE_RUNAWAY_FACTOR = saved


if __name__ == "__main__":
    main()
