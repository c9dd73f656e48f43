"""Save the small fitted models that ``tests/test_persistence.py`` loads.

The files pin that a model saved by an earlier skmlp still loads and goes on
exactly: they were written by commit 1ff78b6, whose solvers held their step
rule as a dict (``step_size``, with a ``"rule"`` key), before the step rules
became classes. For each model the script saves it with joblib and with
skops, and the ``coefs_`` that one more ``partial_fit`` call gives in the
version that saved it (``<name>.npz``), which the test compares to the bit
with the installed version's; and the weights of a few dozen fits
(``trajectories.npz``: every step rule, restart and momentum, L-BFGS,
``partial_fit`` calls with the learning rate changed between them), which
``tests/test_solvers.py`` compares the same way.

Run from a checkout of the commit whose files are wanted::

    PYTHONPATH=/tmp/base1ff python tests/data/make_saved_models.py tests/data
"""

import sys
import warnings
import zipfile
from pathlib import Path

import joblib
import numpy as np
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

# The models, one per kind of saved solver state: with 1ff78b6, 'auto' on
# the full batch is the adaptive rule (its last point and gradient),
# 'auto' on mini-batches backtracking (with NAG's constant momentum), a
# float a fixed step (FISTA's momentum), and L-BFGS its pairs.
MODELS = {
    "gd_adaptive": {"solver": "gd", "learning_rate_init": "auto"},
    "nag_backtracking": {
        "solver": "nag",
        "learning_rate_init": "auto",
        "batch_size": 50,
    },
    "nag_fixed": {"solver": "nag", "learning_rate_init": 0.5, "restart": "gradient"},
    "lbfgs": {"solver": "lbfgs"},
}


def iris():
    """Iris, standardized: what the test rebuilds to continue the models."""
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def fitted(params):
    from skmlp import SoftplusMLPClassifier

    X, y = iris()
    clf = SoftplusMLPClassifier((4,), random_state=0, max_iter=8, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y)


# Fits whose coefs_ 1ff78b6 gave (trajectories.npz): every step rule under
# GD and NAG, each restart and momentum, L-BFGS, and partial_fit calls with
# the learning rate changed between them. The step rules' refactoring into
# classes kept them to the bit.
TRAJECTORIES = {
    f"{solver}-{rate}-{batch}-{restart}-{momentum}": {
        "solver": solver,
        "learning_rate_init": rate,
        "batch_size": batch,
        "restart": restart,
        "momentum": momentum,
    }
    for solver, restarts, momenta in [
        ("gd", [None], ["auto"]),
        ("nag", [None, "function", "gradient"], ["fista", 0.9]),
    ]
    for rate in (0.3, "auto")
    for batch in (None, 40)
    for restart in restarts
    for momentum in momenta
}
TRAJECTORIES["lbfgs"] = {"solver": "lbfgs"}
# The rates of the partial_fit calls, three calls each.
RATES = [0.1, "auto", "auto", 0.3, "auto", 0.05]
PARTIAL_FITS = {
    "partial-gd": {"solver": "gd"},
    "partial-nag-fista-function": {"solver": "nag", "restart": "function"},
    "partial-nag-minibatch-fista": {
        "solver": "nag",
        "batch_size": 40,
        "momentum": "fista",
        "restart": "gradient",
    },
    "partial-nag-minibatch-0.9": {"solver": "nag", "batch_size": 40},
}


def trajectory(name):
    """The ``coefs_`` and ``intercepts_`` of the fit ``name``, one list."""
    from skmlp import SoftplusMLPClassifier

    X, y = iris()
    params = {**TRAJECTORIES, **PARTIAL_FITS}[name]
    clf = SoftplusMLPClassifier((6,), random_state=0, tol=0.0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if name in TRAJECTORIES:
            clf.set_params(max_iter=25).fit(X, y)
        else:
            for k, rate in enumerate(RATES):
                # Other rows every other call: the adaptive step measures.
                rows = slice(None) if k % 2 else slice(0, 120)
                clf.set_params(learning_rate_init=rate)
                for _ in range(3):
                    clf.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
    return [*clf.coefs_, *clf.intercepts_]


def main(directory):
    import skops.io as sio

    directory = Path(directory)
    X, y = iris()
    for name, params in MODELS.items():
        clf = fitted(params)
        joblib.dump(clf, directory / f"{name}.joblib", compress=3)
        sio.dump(clf, directory / f"{name}.skops", compression=zipfile.ZIP_DEFLATED)
        clf.partial_fit(X, y)
        np.savez(directory / f"{name}.npz", *clf.coefs_)
    np.savez_compressed(
        directory / "trajectories.npz",
        **{
            f"{name}/{i}": array
            for name in [*TRAJECTORIES, *PARTIAL_FITS]
            for i, array in enumerate(trajectory(name))
        },
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent)
