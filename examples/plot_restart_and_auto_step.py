"""
============================================
Adaptive restart and the automatic step size
============================================

NAG converges fast when its learning rate is right and may oscillate or
blow up when it is too large; a rate that is too small wastes iterations.
Two options take the guessing out:

* ``learning_rate_init='auto'`` sets the step from the gradients: on the
  full batch (as here) each step is at most ``1 / (c L_k)``, with ``L_k``
  the curvature seen between the last two gradients, and grows by a bounded
  factor per step (Malitsky and Mishchenko's adaptive step), so the step
  follows the local curvature up and down at no extra evaluation (the step
  in use is ``learning_rate_``); on mini-batches it searches the step by
  backtracking on each batch's loss instead;
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
# Without any tuning, ``'auto'`` ends between the fixed rates here: below
# 0.01 and 0.1, above the best of the grid, 1.0, whose step it comes near
# (``learning_rate_`` above is the step it took last, set by the curvature
# it measured along the last move). An iteration costs what it costs with a
# fixed rate: one gradient, no extra loss. The best fixed rate of a grid
# often ends lower, as here, and on Iris with ``alpha=0`` or a large
# synthetic set by 1.5 to 6.6 times (:doc:`/solver_measurements`); but it
# has to be found, and a rate too small (0.01) is still far behind after
# 350 iterations. ``'auto'`` is the default all the same, because a fixed
# rate stopped early on the flat start of several real tables, where
# ``'auto'`` grows its step and goes on (the held-out accuracies are in
# :doc:`/solver_measurements`). Compare the grid
# search of the learning rate in
# :ref:`sphx_glr_auto_examples_plot_grid_search.py`.
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
