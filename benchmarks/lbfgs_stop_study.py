"""L-BFGS's stop on the relative decrease and the direction's angle:
docs/solver_measurements.md, "L-BFGS's stop on the decrease".

For each fit, the cosine between every search direction and ``-grad`` (the
smallest and the median over the steps) and the cosines of the steps whose
relative decrease was below ``FTOL`` (scipy's stop), with the iterations and
the training score. The fits: the regressor on 300 standard normal rows of 4
features with targets ``x_1^2`` and a linear pair of outputs at scales 1 and
1e10 (whose stops along directions all but orthogonal to the gradient
called for ``ANGLE_TOL``), and sound fits stopped by the decrease: softmax
regression on Iris, and 100 softplus units on Iris, digits and breast
cancer at ``alpha`` 1e-4 and 1 with ``tol=0``, standardised, and Friedman #1
(1000 rows).

Run from the repository root (about a minute)::

    PYTHONPATH=$PWD python benchmarks/lbfgs_stop_study.py
"""

import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, make_friedman1
from sklearn.preprocessing import StandardScaler

from skmlp import SoftplusMLPClassifier, SoftplusMLPRegressor
from skmlp._solvers import lbfgs


def fits():
    rng = np.random.RandomState(0)
    X = rng.randn(300, 4)
    square = X[:, 0] ** 2
    pair = np.c_[X @ [1.0, 2.0, -1.0, 0.5], X[:, 0] - X[:, 2]]
    for scale in (1.0, 1e10):
        for name, y in (("x_1^2", square), ("linear pair", pair)):
            model = SoftplusMLPRegressor(solver="lbfgs", random_state=0)
            yield f"regressor, {name} times {scale:g}", model, X, y * scale
    Xi, yi = load_iris(return_X_y=True)
    Xi = StandardScaler().fit_transform(Xi)
    model = SoftplusMLPClassifier(
        (), solver="lbfgs", alpha=1.0, tol=0.0, max_iter=100, random_state=0
    )
    yield "softmax regression, iris, alpha 1", model, Xi, yi
    for name, load in (
        ("iris", load_iris),
        ("digits", load_digits),
        ("breast cancer", load_breast_cancer),
    ):
        Xd, yd = load(return_X_y=True)
        Xd = StandardScaler().fit_transform(Xd)
        for alpha in (1e-4, 1.0):
            model = SoftplusMLPClassifier(
                solver="lbfgs", tol=0.0, alpha=alpha, max_iter=2000, random_state=0
            )
            yield f"classifier, {name}, alpha {alpha:g}", model, Xd, yd
    Xf, yf = make_friedman1(1000, random_state=0)
    model = SoftplusMLPRegressor(solver="lbfgs", tol=0.0, max_iter=3000, random_state=0)
    yield "regressor, Friedman #1", model, StandardScaler().fit_transform(Xf), yf


def main():
    warnings.simplefilter("ignore")  # ConvergenceWarning of capped fits
    search = lbfgs.wolfe_line_search
    steps = []

    def recorded(objective, x, loss, gradient, direction, step):
        found, n_evaluations = search(objective, x, loss, gradient, direction, step)
        norms = np.linalg.norm(gradient) * np.linalg.norm(direction)
        new_loss = found[1] if found is not None else loss
        decrease = (loss - new_loss) / max(abs(loss), abs(new_loss), 1.0)
        steps.append((-float(gradient @ direction) / norms, decrease))
        return found, n_evaluations

    lbfgs.wolfe_line_search = recorded
    print(
        "| fit | iterations | training score | smallest cosine | median cosine "
        "| cosines where the decrease was below FTOL |"
    )
    print("|---|---|---|---|---|---|")
    try:
        for name, model, X, y in fits():
            steps.clear()
            model.fit(X, y)
            cosines = np.array([cosine for cosine, _ in steps])
            at_stops = [f"{c:.2g}" for c, d in steps if d <= lbfgs.FTOL]
            print(
                f"| {name} | {model.n_iter_} | {model.score(X, y):.4f} "
                f"| {cosines.min():.2g} | {np.median(cosines):.2g} "
                f"| {', '.join(at_stops) or '-'} |"
            )
    finally:
        lbfgs.wolfe_line_search = search


if __name__ == "__main__":
    main()
