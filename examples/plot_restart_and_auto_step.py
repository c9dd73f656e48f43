"""
============================================
Adaptive restart and the automatic step size
============================================

NAG converges fast when its learning rate is right and may oscillate or
blow up when it is too large; a rate that is too small wastes iterations.
Two options take the guessing out:

* ``learning_rate_init='auto'`` finds the step by backtracking: at every
  step it starts from the last step, or twice it if that one passed at once,
  and halves it until the loss decreases enough (Beck and Teboulle's test),
  so the step follows the local curvature up and down (the step in use is
  ``learning_rate_``);
* ``restart='gradient'`` (the default) or ``'function'`` (O'Donoghue and
  Candes) resets NAG's momentum whenever the momentum points uphill, or the
  loss goes up, which stops the oscillations of a large step.

This example compares them with fixed learning rates on the standardised
Iris data, with one hidden layer of 16 softplus units and 350 iterations.
See :ref:`user_guide` for the recurrences.
"""

# %%
# Fixed learning rates against ``'auto'``
# ---------------------------------------
# All runs use the default ``restart='gradient'``.
import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from skmlp import LossCurveDisplay, SoftplusMLPClassifier

X, y = load_iris(return_X_y=True)
X = StandardScaler().fit_transform(X)
N_ITER = 350


def train(**params):
    clf = SoftplusMLPClassifier(
        hidden_layer_sizes=(16,),
        solver="nag",
        max_iter=N_ITER,
        tol=0.0,
        n_iter_no_change=N_ITER,
        random_state=0,
        **params,
    )
    with warnings.catch_warnings():
        # Every run takes its N_ITER iterations, converged or not.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y)


fig, ax = plt.subplots()
for learning_rate in [0.01, 0.1, 1.0, "auto"]:
    clf = train(learning_rate_init=learning_rate)
    print(
        f"learning_rate_init={learning_rate!r:>6}: final loss {clf.loss_:.4f}, "
        f"learning_rate_={clf.learning_rate_:.3g}"
    )
    LossCurveDisplay.from_estimator(
        clf, name=f"lr={learning_rate}", ax=ax, log_scale=True
    )
ax.set_title("NAG: fixed learning rates and 'auto'")

# %%
# Without any tuning, ``'auto'`` ends on a step among the fixed rates that
# do well (``learning_rate_`` above) and its loss falls about as fast as
# theirs, while 0.01 is still far behind after 350 iterations.
# The searches cost extra evaluations of the loss (and, for NAG, some
# gradients), so an iteration is dearer than with a fixed rate, but no rate
# has to be tuned: compare the grid search of the learning rate in
# :ref:`sphx_glr_auto_examples_plot_grid_search.py`, and the measurements
# on four data sets in :doc:`/solver_measurements`.
#
# Restart at a learning rate that is too large
# --------------------------------------------
# At ``learning_rate_init=3`` plain NAG is unstable: after a couple of
# hundred iterations its momentum throws the loss up by orders of magnitude,
# and it does not recover. With either restart rule the momentum starts
# afresh as soon as the loss rises (``'function'``) or the momentum points
# uphill (``'gradient'``), so each spike stays short and the loss comes back
# down.
fig, ax = plt.subplots()
for restart in [None, "function", "gradient"]:
    clf = train(learning_rate_init=3.0, restart=restart)
    print(f"restart={restart!r:>10}: final loss {clf.loss_:.4g}")
    LossCurveDisplay.from_estimator(
        clf, name=f"restart={restart}", ax=ax, log_scale=True
    )
ax.set_title("NAG at learning rate 3: restart")
plt.show()
