"""
============================================
Regression: squared error and Poisson counts
============================================

:class:`~skmlp.SoftplusMLPRegressor` is the classifier's network with an
identity output and half the squared error, or, with ``loss='poisson'``, an
exponential output and the Poisson deviance (the user guide's
:ref:`regression` derives both gradients). Here it fits a noisy curve of one
input, then counts whose mean depends on the input, and each fit is judged
on held-out rows.
"""

# %%
# A noisy curve
# -------------
# 600 rows of ``y = sin(3 x) + x`` plus Gaussian noise. The input is
# standardised first, as for any network; the targets are of unit scale
# already. On this curve the default solver, NAG with the adaptive step,
# stops on the plateau of the near-linear fit, where the loss hardly moves
# for a few hundred iterations before the hidden units bend the curve;
# L-BFGS, with its curvature estimate, crosses it.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import mean_poisson_deviance, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import SoftplusMLPRegressor

rng = np.random.default_rng(0)
X = rng.uniform(-2, 2, size=(600, 1))
y = np.sin(3 * X[:, 0]) + X[:, 0] + rng.normal(scale=0.3, size=600)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

curves = {}
for solver in ("nag", "lbfgs"):
    curves[solver] = make_pipeline(
        StandardScaler(),
        SoftplusMLPRegressor(
            hidden_layer_sizes=(32,), solver=solver, max_iter=1000, random_state=0
        ),
    ).fit(X_train, y_train)
    model = curves[solver][-1]
    print(
        f"{solver:>5}: held-out R² {curves[solver].score(X_test, y_test):.3f} "
        f"after {model.n_iter_} iterations, training loss {model.loss_:.4f}"
    )

grid = np.linspace(-2, 2, 400)[:, None]
fig, ax = plt.subplots()
ax.scatter(X_test[:, 0], y_test, s=8, alpha=0.5, label="held-out rows")
ax.plot(grid[:, 0], np.sin(3 * grid[:, 0]) + grid[:, 0], "k--", label="true mean")
for solver, reg in curves.items():
    ax.plot(grid[:, 0], reg.predict(grid), label=f"solver={solver!r}")
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.legend()

# %%
# Counts with the Poisson loss
# ----------------------------
# Counts drawn from a Poisson law of mean ``exp(1.5 sin(2 x))``, between
# about 0.2 and 4.5. ``loss='poisson'`` predicts ``exp`` of the output, a
# mean that is positive wherever it is asked; the squared error fits the
# same counts by an unconstrained curve. The held-out mean Poisson deviance
# (lower is better) judges both.
mean = np.exp(1.5 * np.sin(2 * X[:, 0]))
counts = rng.poisson(mean)
X_train, X_test, c_train, c_test = train_test_split(X, counts, random_state=0)

models = {
    loss: make_pipeline(
        StandardScaler(),
        SoftplusMLPRegressor(
            loss=loss,
            hidden_layer_sizes=(32,),
            solver="lbfgs",
            max_iter=3000,
            random_state=0,
        ),
    ).fit(X_train, c_train)
    for loss in ("poisson", "squared_error")
}
for loss, model in models.items():
    predicted = np.clip(model.predict(X_test), 1e-6, None)
    print(
        f"{loss:>13}: held-out Poisson deviance "
        f"{mean_poisson_deviance(c_test, predicted):.3f}, "
        f"R² {r2_score(c_test, predicted):.3f}, "
        f"lowest prediction on the grid {model.predict(grid).min():.3f}"
    )

fig, ax = plt.subplots()
ax.scatter(X_test[:, 0], c_test, s=8, alpha=0.5, label="held-out counts")
ax.plot(grid[:, 0], np.exp(1.5 * np.sin(2 * grid[:, 0])), "k--", label="true mean")
for loss, model in models.items():
    ax.plot(grid[:, 0], model.predict(grid), label=f"loss={loss!r}")
ax.set_xlabel("x")
ax.set_ylabel("count")
ax.legend()
plt.show()

# %%
# On these counts the Poisson fit's held-out deviance is a little the lower
# (the two are printed above), and its predictions are
# positive by construction, where the squared error's are positive here only
# because the curve happens to stay above zero. Both share everything else
# with :class:`~skmlp.SoftplusMLPClassifier`: the solvers, ``partial_fit``,
# early stopping (scored by R²), ``loss_curve_`` and
# :class:`~skmlp.LossCurveDisplay`.
