"""A scikit-learn MLP classifier with softplus hidden layers, trained by GD or NAG."""

from ._gradient_check import check_gradients
from ._mlp import DivergenceError, SoftplusMLPClassifier
from ._plot import LossCurveDisplay, score_curve

__version__ = "0.1.0"

__all__ = [
    "DivergenceError",
    "LossCurveDisplay",
    "SoftplusMLPClassifier",
    "__version__",
    "check_gradients",
    "score_curve",
]
