"""
=============================================
GD, NAG and L-BFGS, and NAG's momentum
=============================================

``SoftplusMLPClassifier`` offers three solvers. On the full batch, L-BFGS
(``solver='lbfgs'``) reaches a low training loss in far fewer epochs than
Nesterov's accelerated gradient (``'nag'``), which is far ahead of gradient
descent (``'gd'``); an L-BFGS epoch costs about one evaluation of the loss
and gradient, as the others' do. On mini-batches only the first-order
solvers apply, and NAG's momentum has to be a constant one: FISTA's, built
for exact gradients, accumulates the noise of mini-batch gradients. See
:ref:`user_guide` for the methods and :doc:`/solver_measurements` for
timings.
"""

# %%
# Full batch: training loss per epoch on the digits
# -------------------------------------------------
import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skmlp import LossCurveDisplay, SoftplusMLPClassifier

warnings.simplefilter("ignore", ConvergenceWarning)


def split(X, y):
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


X_train, X_test, y_train, y_test = split(*load_digits(return_X_y=True))

fig, ax = plt.subplots()
for solver in ("gd", "nag", "lbfgs"):
    clf = SoftplusMLPClassifier(
        solver=solver,
        learning_rate_init=0.1,
        max_iter=100,
        tol=0.0,
        n_iter_no_change=100,
        random_state=0,
    ).fit(X_train, y_train)
    print(
        f"{solver:>5}: training loss {clf.loss_:.2e}, "
        f"test accuracy {clf.score(X_test, y_test):.3f}"
    )
    LossCurveDisplay.from_estimator(clf, ax=ax, name=solver)
ax.set_yscale("log")
ax.set_title("Digits, full batch, step 0.1")
plt.show()

# %%
# Mini-batches: FISTA's momentum against a constant one
# -----------------------------------------------------
# 15000 training rows in mini-batches of 200: 75 steps per epoch. The
# default ``momentum='auto'`` is 0.9 here, as in MLPClassifier;
# ``momentum='fista'`` lets the momentum tend to 1 and the loss climbs after a
# few epochs, until training stops for lack of improvement.
X_train, X_test, y_train, y_test = split(
    *make_classification(
        n_samples=20000,
        n_features=50,
        n_informative=30,
        n_redundant=10,
        n_classes=5,
        random_state=0,
    )
)

fig, ax = plt.subplots()
for momentum in ("fista", 0.9):
    clf = SoftplusMLPClassifier(
        batch_size=200,
        learning_rate_init=0.1,
        momentum=momentum,
        max_iter=20,
        tol=0.0,
        random_state=0,
    ).fit(X_train, y_train)
    print(
        f"momentum={momentum!r}: {clf.n_iter_} epochs, "
        f"test accuracy {clf.score(X_test, y_test):.3f}"
    )
    LossCurveDisplay.from_estimator(clf, ax=ax, name=f"momentum={momentum!r}")
ax.set_yscale("log")
ax.set_title("Mini-batches of 200, NAG")
plt.show()
