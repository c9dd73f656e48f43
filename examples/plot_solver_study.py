"""
==================
GD and NAG on Iris
==================

A 4 -> 16 -> 3 network (softplus hidden layer, softmax output, cross-entropy
loss) is trained with steepest descent (GD) and with Nesterov's accelerated
gradient (NAG), both with a learning rate of 0.01 for 350 iterations, and
the training loss and the test accuracy of each iteration are plotted. NAG
converges much faster than GD. :ref:`user_guide` gives the mathematics of
both solvers.
"""

# %%
# The data
# --------
# Iris has 150 rows, 4 features and 3 classes. A stratified
# fifth is held out for testing. The features are standardised inside a
# pipeline, so the scaler learns its means and deviations from the training
# rows only.
import warnings

import numpy as np
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import LossCurveDisplay, SoftplusMLPClassifier, score_curve

X, y = load_iris(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.2, stratify=y, random_state=0
)

# %%
# Training, with the test accuracy of every iteration
# ----------------------------------------------------
# The settings: 16 hidden units, learning rate 0.01, 350 full-batch
# iterations and no penalty (``alpha=0``). ``tol=0`` with
# ``n_iter_no_change=350`` switches the early stop off, so that every run
# takes its 350 iterations.
#
# :func:`~skmlp.score_curve` trains a clone of the pipeline by ``partial_fit``,
# one epoch per call, and scores the test set after each call. A call
# continues exactly where the previous one stopped (NAG's momentum included),
# so the model it returns is the one ``fit`` with ``max_iter=350`` gives.
N_ITER = 350


def study_model(solver):
    return make_pipeline(
        StandardScaler(),
        SoftplusMLPClassifier(
            hidden_layer_sizes=(16,),
            solver=solver,
            learning_rate_init=0.01,
            alpha=0.0,
            max_iter=N_ITER,
            tol=0.0,
            n_iter_no_change=N_ITER,
            random_state=0,
        ),
    )


models, test_accuracy = {}, {}
for solver in ["gd", "nag"]:
    models[solver], test_accuracy[solver] = score_curve(
        study_model(solver), X_train, y_train, X_test, y_test, max_iter=N_ITER
    )

# %%
# Training loss and test accuracy per iteration
# ----------------------------------------------
# :class:`~skmlp.LossCurveDisplay` draws the training loss on the left axis
# and the test accuracy, dashed and in the same colour, on the right axis.
# Passing the first display's axes to the second puts both solvers on one
# figure. The loss axis is logarithmic. A straight line on it would mean a
# linear rate of convergence only if the plotted quantity were
# :math:`L - L^*`; the loss :math:`L` itself flattens as it nears its
# minimum :math:`L^* > 0`.
display = LossCurveDisplay.from_estimator(
    models["gd"],
    scores=test_accuracy["gd"],
    score_name="test accuracy",
    name="GD",
    log_scale=True,
)
LossCurveDisplay.from_estimator(
    models["nag"],
    scores=test_accuracy["nag"],
    score_name="test accuracy",
    name="NAG",
    ax=display.ax_,
    log_scale=True,
)
display.ax_.set_title("Iris, 4 -> 16 -> 3, learning rate 0.01")
display.score_ax_.set_ylim(0, 1.02)

# %%
# The numbers
# -----------
# After 350 iterations NAG's training loss is an order of magnitude below
# GD's. GD, at this small learning rate, is still far from a minimum and
# misclassifies many rows. The network has
# :math:`(4 + 1) \cdot 16 + (16 + 1) \cdot 3 = 131` learnable parameters.
for solver, model in models.items():
    clf = model[-1]
    n_parameters = sum(c.size for c in clf.coefs_) + sum(
        b.size for b in clf.intercepts_
    )
    print(
        f"{solver.upper():>3}: {n_parameters} parameters, "
        f"training loss {clf.loss_:.4f}, "
        f"train accuracy {model.score(X_train, y_train):.3f}, "
        f"test accuracy {model.score(X_test, y_test):.3f}"
    )

# %%
# ``partial_fit`` one epoch at a time equals ``fit``
# --------------------------------------------------
# The model trained epoch by epoch has the same weights as the one ``fit``
# trains in a single call (up to the last bit: the same operations run in
# the same order).
with warnings.catch_warnings():
    # A fixed budget of iterations is the point of the comparison.
    warnings.simplefilter("ignore", ConvergenceWarning)
    fitted = study_model("nag").fit(X_train, y_train)
print(
    "same weights:",
    all(
        np.array_equal(a, b)
        for a, b in zip(fitted[-1].coefs_, models["nag"][-1].coefs_)
    ),
)
