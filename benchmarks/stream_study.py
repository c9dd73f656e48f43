"""Streams of small chunks through ``partial_fit`` at the defaults: the rule
that takes a call on other rows than the last call's for a mini-batch,
against every call taken for a full batch (the rule before it).

A 600-row, 5-feature, 3-class set (``make_classification``, standardised),
streamed twice in chunks of 1, 5, 20 and 60 rows, 3 seeds; the training
accuracy at the end, or the chunk at which the fit raised DivergenceError
(or NoStepFound). Then once, each chunk passed 2 and 3 times in a row.
Beside them MLPClassifier's ``partial_fit`` at its defaults (Adam) and at
``solver='sgd'``. The rule before is had by leaving the rows without a
fingerprint, as rows on a Dask cluster are.

Run from the repository root::

    python benchmarks/stream_study.py
"""

import functools
import sys
import warnings
from pathlib import Path

from sklearn.datasets import make_classification
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from skmlp import DivergenceError, SoftplusMLPClassifier  # noqa: E402
from skmlp._solvers.step_size import NoStepFound  # noqa: E402
from skmlp._training import loop  # noqa: E402

CHUNKS = (1, 5, 20, 60)
SEEDS = (0, 1, 2)


def stream(make, X, y, chunk, passes=2, calls=1):
    """The training accuracy after ``passes`` passes of ``calls`` calls per
    chunk, or where it diverged."""
    model = make()
    for _ in range(passes):
        for start in range(0, len(y), chunk):
            rows = slice(start, start + chunk)
            try:
                for _ in range(calls):
                    model.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
            except DivergenceError:
                return f"diverged at chunk {start // chunk}"
            except NoStepFound:
                return f"no step found at chunk {start // chunk}"
    return f"{model.score(X, y):.2f}"


def main():
    warnings.simplefilter("ignore")
    X, y = make_classification(600, 5, n_informative=3, n_classes=3, random_state=0)
    X = StandardScaler().fit_transform(X)
    contenders = {
        "skmlp, defaults": lambda seed: SoftplusMLPClassifier((8,), random_state=seed),
        "skmlp, solver='gd'": lambda seed: SoftplusMLPClassifier(
            (8,), solver="gd", random_state=seed
        ),
        "skmlp, momentum=0.9, learning_rate_init=0.1": lambda seed: (
            SoftplusMLPClassifier(
                (8,), momentum=0.9, learning_rate_init=0.1, random_state=seed
            )
        ),
        "MLPClassifier, defaults (adam)": lambda seed: MLPClassifier(
            (8,), random_state=seed
        ),
        "MLPClassifier, solver='sgd'": lambda seed: MLPClassifier(
            (8,), solver="sgd", random_state=seed
        ),
    }
    full_batches = loop._rows_fingerprint
    print("| contender | rule | " + " | ".join(f"chunks of {c}" for c in CHUNKS) + " |")
    print("|---|---|" + "---|" * len(CHUNKS))
    for name, make in contenders.items():
        rules = ("chunks", "full batches") if name.startswith("skmlp") else ("",)
        for rule in rules:
            loop._rows_fingerprint = (
                (lambda objective: "") if rule == "full batches" else full_batches
            )
            cells = [
                ", ".join(
                    stream(functools.partial(make, seed), X, y, chunk) for seed in SEEDS
                )
                for chunk in CHUNKS
            ]
            print(f"| {name} | {rule} | " + " | ".join(cells) + " |")
    # Each chunk passed more than once in a row (one pass over the data).
    print()
    print(
        "| calls per chunk | rule | "
        + " | ".join(f"chunks of {c}" for c in CHUNKS[:3])
        + " |"
    )
    print("|---|---|" + "---|" * 3)
    make = contenders["skmlp, defaults"]
    for calls in (2, 3):
        for rule in ("chunks", "full batches"):
            loop._rows_fingerprint = (
                (lambda objective: "") if rule == "full batches" else full_batches
            )
            cells = [
                ", ".join(
                    stream(functools.partial(make, seed), X, y, chunk, 1, calls)
                    for seed in SEEDS
                )
                for chunk in CHUNKS[:3]
            ]
            print(f"| {calls} | {rule} | " + " | ".join(cells) + " |")
    loop._rows_fingerprint = full_batches


if __name__ == "__main__":
    main()
