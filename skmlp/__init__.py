"""A scikit-learn MLP classifier with softplus hidden layers, trained by GD or NAG."""

from ._mlp import DivergenceError, SoftplusMLPClassifier
from ._plot import LossCurveDisplay, score_curve

__version__ = "0.1.0"

__all__ = [
    "DivergenceError",
    "LossCurveDisplay",
    "SoftplusMLPClassifier",
    "__version__",
    "score_curve",
]
