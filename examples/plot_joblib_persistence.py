"""
==============================================
Saving a model with joblib and loading it back
==============================================

A fitted :class:`~skmlp.SoftplusMLPClassifier`, alone or in a pipeline, is
saved and loaded with :mod:`joblib` like any scikit-learn estimator. The
loaded model predicts exactly what the saved one did, and it can go on
training with ``partial_fit`` from where it stopped: NAG's momentum is part
of what is saved.

As with every pickle, load only files you trust, with the versions of skmlp
and scikit-learn that saved them; :ref:`export` covers skops for files from
others and ONNX for serving without Python.
"""

# %%
# Train and save
# --------------
import tempfile
import warnings
from pathlib import Path

import joblib
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skmlp import LossCurveDisplay, SoftplusMLPClassifier

X, y = load_iris(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.2, stratify=y, random_state=0
)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)


def new_model(max_iter):
    return SoftplusMLPClassifier(
        hidden_layer_sizes=(16,),
        solver="nag",
        learning_rate_init=0.01,
        max_iter=max_iter,
        tol=0.0,
        n_iter_no_change=max_iter,
        random_state=0,
    )


with warnings.catch_warnings():
    # The short budget is deliberate: training goes on after loading.
    warnings.simplefilter("ignore", ConvergenceWarning)
    model = new_model(max_iter=100).fit(X_train, y_train)

folder = tempfile.TemporaryDirectory()
path = Path(folder.name) / "skmlp-nag.joblib"
joblib.dump(model, path)
print(f"saved {path.name}: {path.stat().st_size} bytes")

# %%
# Load and predict
# ----------------
# The loaded model holds the same weights, so its probabilities are equal to
# the last bit.
loaded = joblib.load(path)
print(
    "same probabilities:",
    np.array_equal(loaded.predict_proba(X_test), model.predict_proba(X_test)),
)
print(f"test accuracy after 100 iterations: {loaded.score(X_test, y_test):.3f}")

# %%
# Go on training
# --------------
# 250 ``partial_fit`` calls on the loaded model give the model that 350
# uninterrupted iterations give: saving and loading in between changes
# nothing.
for _ in range(250):
    loaded.partial_fit(X_train, y_train)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    uninterrupted = new_model(max_iter=350).fit(X_train, y_train)
print(
    "same weights as 350 iterations in one go:",
    all(np.array_equal(a, b) for a, b in zip(loaded.coefs_, uninterrupted.coefs_)),
)
print(f"test accuracy after 350 iterations: {loaded.score(X_test, y_test):.3f}")

display = LossCurveDisplay.from_estimator(loaded, name="saved, loaded, resumed")
display.ax_.axvline(100.5, color="gray", linestyle=":", label="saved and loaded")
display.ax_.legend()
plt.show()

folder.cleanup()
