"""
===========================================================
Choosing the learning rate and the solver with GridSearchCV
===========================================================

:class:`~skmlp.SoftplusMLPClassifier` is a scikit-learn estimator, so it goes
into a :class:`~sklearn.pipeline.Pipeline` after a scaler and its parameters
are tuned by :class:`~sklearn.model_selection.GridSearchCV` like any other
model's. Here the search runs over ``learning_rate_init`` and ``solver`` with
a fixed budget of 100 iterations, and the cross-validated accuracy is plotted
against the learning rate for each solver.
"""

# %%
# The pipeline and the grid
# -------------------------
# Parameters of a pipeline's step are addressed as ``<step>__<parameter>``.
# The learning rates span three decades on a logarithmic grid, as step sizes
# should. The early stop is off (``tol=0``) so that every candidate gets the
# same 100 iterations and the comparison is about the speed of convergence.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import SoftplusMLPClassifier

X, y = load_iris(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.2, stratify=y, random_state=0
)

pipeline = Pipeline(
    [
        ("scale", StandardScaler()),
        (
            "mlp",
            SoftplusMLPClassifier(
                hidden_layer_sizes=(16,),
                max_iter=100,
                tol=0.0,
                n_iter_no_change=100,
                random_state=0,
            ),
        ),
    ]
)
learning_rates = np.logspace(-3, 0, 7)
param_grid = {"mlp__learning_rate_init": learning_rates, "mlp__solver": ["gd", "nag"]}
search = GridSearchCV(
    pipeline, param_grid, cv=StratifiedKFold(5, shuffle=True, random_state=0)
)
with warnings.catch_warnings():
    # Every candidate stops at its budget of iterations on purpose.
    warnings.simplefilter("ignore", ConvergenceWarning)
    search.fit(X_train, y_train)

best = search.best_params_
print(
    f"best: solver={best['mlp__solver']!r}, "
    f"learning_rate_init={best['mlp__learning_rate_init']:.3g}"
)
print(f"cross-validated accuracy: {search.best_score_:.3f}")
print(f"test accuracy of the refitted best model: {search.score(X_test, y_test):.3f}")

# %%
# The scores
# ----------
# ``cv_results_`` holds the mean and the standard deviation of the accuracy
# over the five folds for every candidate. NAG reaches a good accuracy at
# learning rates ten times smaller than GD needs within the same budget; at
# the largest rates both do well, because this small problem is benign.
results = search.cv_results_
fig, ax = plt.subplots()
for solver in ["gd", "nag"]:
    rows = results["param_mlp__solver"] == solver
    ax.errorbar(
        results["param_mlp__learning_rate_init"][rows].astype(float),
        results["mean_test_score"][rows],
        yerr=results["std_test_score"][rows],
        marker="o",
        capsize=3,
        label=solver.upper(),
    )
ax.set_xscale("log")
ax.set_xlabel("learning_rate_init")
ax.set_ylabel("Accuracy, 5-fold CV (mean +/- std)")
ax.set_title("100 iterations, 4 -> 16 -> 3")
ax.legend()
plt.show()
