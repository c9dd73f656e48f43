"""Scikit-learn MLPs of softplus units, a classifier and a regressor, trained by
GD, NAG or L-BFGS."""

from ._gradient_check import check_gradients
from ._mlp import DivergenceError, SoftplusMLPClassifier, SoftplusMLPRegressor
from ._onnx import register_onnx_converter
from ._persistence import InconsistentVersionWarning
from ._plot import LossCurveDisplay, score_curve

__version__ = "0.1.0"

__all__ = [
    "DivergenceError",
    "InconsistentVersionWarning",
    "LossCurveDisplay",
    "SoftplusMLPClassifier",
    "SoftplusMLPRegressor",
    "__version__",
    "check_gradients",
    "register_onnx_converter",
    "score_curve",
]
