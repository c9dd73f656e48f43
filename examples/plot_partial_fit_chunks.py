"""
=======================================
Training on data that arrives in chunks
=======================================

When the data does not fit in memory, or keeps arriving, train with
:meth:`~skmlp.SoftplusMLPClassifier.partial_fit`: each call is one epoch over
the rows it is given, and the model (weights, NAG's momentum, the loss curve)
carries over from call to call. This example streams a synthetic data set in
chunks of 250 rows, passes over the stream three times, and follows the
accuracy on held-out rows after every chunk.
"""

# %%
# A stream of chunks
# ------------------
# A generator stands in for the source (files, a database, a socket). The
# first call of ``partial_fit`` must list every class the stream can
# contain, because a chunk need not hold them all.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skmlp import LossCurveDisplay, SoftplusMLPClassifier

X, y = make_classification(
    n_samples=6000,
    n_features=20,
    n_informative=10,
    n_classes=4,
    n_clusters_per_class=2,
    random_state=0,
)
X_stream, X_test, y_stream, y_test = train_test_split(
    X, y, test_size=1000, stratify=y, random_state=0
)
classes = np.unique(y)
CHUNK = 250


def chunks():
    """Yield the stream's (X, y) chunks in order."""
    for start in range(0, len(X_stream), CHUNK):
        yield X_stream[start : start + CHUNK], y_stream[start : start + CHUNK]


# %%
# Scaling a stream
# ----------------
# The scaler cannot see all the data first. Fitting it on the first chunk
# and then keeping it fixed gives every later chunk the same transformation
# (a scaler refitted with ``partial_fit`` on each chunk would keep moving the
# inputs under the network's feet).
first_X, _ = next(chunks())
scaler = StandardScaler().fit(first_X)

# %%
# Training chunk by chunk
# -----------------------
# Each chunk is split into mini-batches of 50 rows (``batch_size``), so a
# call takes five NAG steps; the momentum runs on across mini-batches and
# calls. After every call the held-out accuracy is recorded.
clf = SoftplusMLPClassifier(
    hidden_layer_sizes=(32,),
    solver="nag",
    batch_size=50,
    learning_rate_init=0.05,
    random_state=0,
)
X_test_scaled = scaler.transform(X_test)
held_out_accuracy = []
for _ in range(3):
    for X_chunk, y_chunk in chunks():
        clf.partial_fit(scaler.transform(X_chunk), y_chunk, classes=classes)
        held_out_accuracy.append(clf.score(X_test_scaled, y_test))

print(f"{clf.n_iter_} partial_fit calls, {clf.t_} rows seen")
print(f"held-out accuracy after the first pass: {held_out_accuracy[19]:.3f}")
print(f"held-out accuracy after three passes: {held_out_accuracy[-1]:.3f}")

# %%
# The curves
# ----------
# ``loss_curve_`` has one entry per call: the loss on that call's chunk, so
# it is noisy from chunk to chunk. :class:`~skmlp.LossCurveDisplay` can be
# built from any pair of curves of equal length; here its x axis counts the
# calls, and the dotted lines mark the passes over the stream.
display = LossCurveDisplay(
    loss_curve=clf.loss_curve_,
    scores=held_out_accuracy,
    name="NAG, batch_size=50",
    score_name="held-out accuracy",
).plot()
display.ax_.set_xlabel("partial_fit call (one chunk of 250 rows)")
display.ax_.set_ylim(0, None)
display.score_ax_.set_ylim(0, 1)
for n_calls in [20, 40]:
    display.ax_.axvline(n_calls + 0.5, color="gray", linestyle=":")
plt.show()
