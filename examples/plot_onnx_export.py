"""
=================================================
Exporting to ONNX and predicting with onnxruntime
=================================================

ONNX is a file format for trained models that runtimes in many languages can
execute without Python or scikit-learn. skl2onnx converts scikit-learn
models; :func:`skmlp.register_onnx_converter` teaches it the graph of
:class:`~skmlp.SoftplusMLPClassifier`: for each layer a ``MatMul`` and an
``Add``, a ``Softplus`` after each hidden layer, a ``Softmax`` for the
probabilities and an ``ArgMax`` that picks the label. Here a pipeline with a
scaler is exported, reloaded from its file in onnxruntime, and its
predictions are compared with scikit-learn's.

This example needs the ``onnx`` extra: ``pip install ".[onnx]"`` from a
clone of the repository.
"""

# %%
# Train a pipeline
# ----------------
# The graph computes in the input's dtype; float32 is what ONNX runtimes
# are most often fed (and what skl2onnx's ZipMap takes), so the data is
# converted once here and the same float32 rows go to both implementations.
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime
from skl2onnx import to_onnx
from sklearn.datasets import load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import SoftplusMLPClassifier, register_onnx_converter

X, y = load_wine(return_X_y=True)
X = X.astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
pipeline = make_pipeline(
    StandardScaler(),
    SoftplusMLPClassifier(
        hidden_layer_sizes=(16, 8), learning_rate_init=0.1, random_state=0
    ),
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    pipeline.fit(X_train, y_train)
print(f"test accuracy: {pipeline.score(X_test, y_test):.3f}")

# %%
# Convert and save
# ----------------
# One call registers the converter; it imports skl2onnx, which ``import
# skmlp`` never does. ``zipmap=False`` makes the probabilities a plain
# ``(n_samples, n_classes)`` tensor instead of one dictionary per row.
register_onnx_converter()
model = to_onnx(pipeline, X_train[:1], options={"zipmap": False})
print("operators:", [node.op_type for node in model.graph.node])

workdir = tempfile.TemporaryDirectory()
path = Path(workdir.name) / "wine.onnx"
path.write_bytes(model.SerializeToString())
print(f"{path.name}: {path.stat().st_size} bytes")

# %%
# Reload in onnxruntime and compare
# ---------------------------------
# The session knows nothing of skmlp: it reads the file and runs the graph.
session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
labels, probabilities = session.run(None, {session.get_inputs()[0].name: X_test})

difference = np.abs(probabilities - pipeline.predict_proba(X_test))
print(f"largest probability difference: {difference.max():.1e}")
print("same labels:", np.array_equal(labels, pipeline.predict(X_test)))

# %%
# The differences are float32 rounding, a few :math:`10^{-7}`, far below
# the :math:`10^{-5}` the tests require.
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.hist(np.log10(difference[difference > 0].ravel()), bins=20)
ax.set_xlabel(r"$\log_{10} |p_\mathrm{onnxruntime} - p_\mathrm{skmlp}|$")
ax.set_ylabel("probabilities")
ax.set_title("onnxruntime against predict_proba, float32 input")
fig.tight_layout()
plt.show()

workdir.cleanup()
