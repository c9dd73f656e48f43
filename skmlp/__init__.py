"""A scikit-learn MLP classifier with softplus hidden layers, trained by GD or NAG."""

from ._mlp import DivergenceError, SoftplusMLPClassifier

__version__ = "0.1.0"

__all__ = ["DivergenceError", "SoftplusMLPClassifier", "__version__"]
