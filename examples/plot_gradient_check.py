"""
==============================================
Checking the gradient on several architectures
==============================================

Back-propagation is easy to get subtly wrong while training still seems to
work: leaving out the factor :math:`W_1^T` of the first layer's gradient,
for example, still lowers the loss. skmlp keeps all the parameters in one
flat vector, so :func:`~skmlp.check_gradients` compares the analytic
gradient with central finite differences along every coordinate, for any
``hidden_layer_sizes``.
"""

# %%
# Several architectures, before and after training
# ------------------------------------------------
# The check returns the relative error
# :math:`\lVert g - g_{fd} \rVert / \max(\lVert g \rVert, \lVert g_{fd} \rVert)`
# between the analytic gradient :math:`g` and the finite-difference one. It
# runs on the objective ``fit`` minimises, L2 penalty and sample weights
# included: at the initial weights for an unfitted estimator, at the fitted
# weights otherwise. In float64 a correct gradient gives about
# :math:`10^{-9}` away from a stationary point; a wrong one, an error of
# order one. Near a minimum, where :math:`\lVert g \rVert` is tiny, the
# rounding error of the differences dominates and the relative error grows
# although the gradient is right, so check early in training.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from skmlp import SoftplusMLPClassifier, check_gradients

X, y = load_iris(return_X_y=True)
X = StandardScaler().fit_transform(X)
rng = np.random.RandomState(0)
sample_weight = rng.uniform(0.5, 2.0, size=len(y))

architectures = [(), (1,), (16,), (7, 5), (32, 16, 8)]
errors = {"initial weights": [], "after 50 iterations": []}
for hidden_layer_sizes in architectures:
    clf = SoftplusMLPClassifier(
        hidden_layer_sizes=hidden_layer_sizes, alpha=0.1, max_iter=50, random_state=0
    )
    errors["initial weights"].append(
        check_gradients(clf, X, y, sample_weight=sample_weight)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y, sample_weight=sample_weight)
    errors["after 50 iterations"].append(
        check_gradients(clf, X, y, sample_weight=sample_weight)
    )
    n_parameters = sum(c.size for c in clf.coefs_) + sum(
        b.size for b in clf.intercepts_
    )
    print(
        f"hidden_layer_sizes={str(hidden_layer_sizes):<12} "
        f"{n_parameters:>4} parameters, relative errors "
        f"{errors['initial weights'][-1]:.1e} and "
        f"{errors['after 50 iterations'][-1]:.1e}"
    )

fig, ax = plt.subplots()
positions = np.arange(len(architectures))
for offset, (label, values) in zip([-0.2, 0.2], errors.items()):
    ax.bar(positions + offset, values, width=0.4, label=label)
ax.set_xticks(positions, [str(sizes) for sizes in architectures])
ax.set_yscale("log")
ax.set_ylim(1e-13, 1)
ax.axhline(1e-7, color="gray", linestyle=":", label="1e-7")
ax.set_xlabel("hidden_layer_sizes")
ax.set_ylabel("Relative error of the gradient")
ax.set_title("Analytic gradient against central differences (Iris, alpha=0.1)")
ax.legend()

# %%
# Choosing the width of the difference
# ------------------------------------
# A central difference :math:`(L(\theta + \epsilon e_i) - L(\theta - \epsilon
# e_i)) / 2\epsilon` has a truncation error of order :math:`\epsilon^2` and a
# rounding error of order :math:`\varepsilon / \epsilon`, with
# :math:`\varepsilon \approx 2.2 \cdot 10^{-16}` the float64 machine
# epsilon (twice the unit roundoff). The total is smallest near
# :math:`\epsilon = \varepsilon^{1/3} \approx 6 \cdot 10^{-6}`, and the
# default ``epsilon=1e-6`` is close to it. Forward differences (the default
# of :func:`scipy.optimize.approx_fprime`) have a truncation error of order
# :math:`\epsilon`: they cannot get much below
# :math:`\sqrt{\varepsilon} \approx 1.5 \cdot 10^{-8}`.
clf = SoftplusMLPClassifier(hidden_layer_sizes=(16,), alpha=0.1, random_state=0)
epsilons = np.logspace(-10, -1, 19)
sweep = [check_gradients(clf, X, y, epsilon=epsilon) for epsilon in epsilons]
print(f"smallest error {min(sweep):.1e} at epsilon={epsilons[np.argmin(sweep)]:.0e}")

fig, ax = plt.subplots()
ax.loglog(epsilons, sweep, marker="o")
ax.set_xlabel("epsilon")
ax.set_ylabel("Relative error of the gradient")
ax.set_title("4 -> 16 -> 3 at its initial weights")
plt.show()
