"""Conversion of a fitted SoftplusMLPClassifier or SoftplusMLPRegressor to ONNX.

skl2onnx converts an estimator only if a shape calculator and a converter are
registered for its class; :func:`register_onnx_converter` registers both, for
both estimators. It
imports skl2onnx when it is called, never when skmlp is imported, so that
skl2onnx stays an optional dependency (the ``onnx`` extra).

The graph is the forward pass of :func:`skmlp._evaluation.blocks.forward_log_proba`::

    a_0 = X
    a_l = Softplus(MatMul(a_{l-1}, coefs_[l-1]) + intercepts_[l-1])   (hidden)
    probabilities = Softmax(MatMul(a_L, coefs_[L]) + intercepts_[L])
    label = classes_[ArgMax(probabilities)]

and for a model fitted on multilabel targets (``out_activation_ ==
'logistic'``), as skl2onnx converts ``MLPClassifier``'s::

    probabilities = Sigmoid(MatMul(a_L, coefs_[L]) + intercepts_[L])
    label = Cast(probabilities > 0.5, int64)        (the indicator matrix)

and for the regressor, as skl2onnx converts ``MLPRegressor``'s (one output,
``variable``, of shape ``(n_samples, n_outputs)``)::

    variable = MatMul(a_L, coefs_[L]) + intercepts_[L]          ('identity')
    variable = Exp(MatMul(a_L, coefs_[L]) + intercepts_[L])     ('exp')
"""

import numpy as np

# The alias under which skl2onnx knows the estimator, as in its own
# "Sklearn<ClassName>" aliases.
_ALIAS = "SkmlpSoftplusMLPClassifier"
_REGRESSOR_ALIAS = "SkmlpSoftplusMLPRegressor"


def register_onnx_converter():
    """Register the ONNX converters of skmlp's estimators with skl2onnx.

    After this call ``skl2onnx.to_onnx(clf, X[:1])`` converts a fitted
    classifier, alone or as a step of a :class:`~sklearn.pipeline.Pipeline`.
    The graph has two outputs, like the one of any scikit-learn classifier:
    ``label`` (int64 for integer class labels, string for string labels) and
    ``probabilities``, which by default is a list of ``{label: probability}``
    dictionaries (skl2onnx's ZipMap). The ``zipmap`` option (True, False or
    ``'columns'``) changes that as for scikit-learn's classifiers, for
    example ``options={SoftplusMLPClassifier: {"zipmap": False}}`` gives a
    float tensor of shape ``(n_samples, n_classes)``. The ``nocl`` option
    (default False) replaces the class labels by their indices ``0..K-1``.

    A model fitted on multilabel targets converts as skl2onnx converts
    :class:`~sklearn.neural_network.MLPClassifier`'s: ``label`` is the
    int64 indicator matrix of shape ``(n_samples, n_labels)`` that
    ``predict`` returns and ``probabilities`` the probability of each label
    (``predict_proba``; with ZipMap, ``{label index: probability}``).

    A fitted :class:`SoftplusMLPRegressor` converts as skl2onnx converts
    :class:`~sklearn.neural_network.MLPRegressor`: one output, ``variable``,
    of shape ``(n_samples, n_outputs_)`` (``(n_samples, 1)`` for a 1-d
    ``y``, whose ``predict`` is 1-d), the predicted targets (``exp`` of the
    output layer for ``loss='poisson'``).

    Calling it again is harmless: the registration is replaced by an
    identical one.

    Raises
    ------
    ImportError
        If skl2onnx is not installed; install the ``onnx`` extra from a
        clone of skmlp's repository with ``pip install ".[onnx]"``.

    See Also
    --------
    skl2onnx.to_onnx : Convert a scikit-learn model to ONNX.

    Notes
    -----
    The graph computes in float64 for float64 input and in float32 for any
    other input type. skl2onnx's ZipMap accepts float32 probabilities only,
    so a float64 graph needs ``zipmap=False``, as for scikit-learn's
    classifiers. In float32 onnxruntime reproduces ``predict_proba`` to
    a few ``1e-6`` at most (the user guide's export page gives the
    figures); ``predict`` may differ only for rows where the two most
    probable classes tie to float32 precision.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime
    >>> from skl2onnx import to_onnx
    >>> from sklearn.datasets import load_iris
    >>> from skmlp import SoftplusMLPClassifier, register_onnx_converter
    >>> X, y = load_iris(return_X_y=True)
    >>> X = X.astype(np.float32)
    >>> clf = SoftplusMLPClassifier(
    ...     hidden_layer_sizes=(8,), solver="lbfgs", random_state=0).fit(X, y)
    >>> register_onnx_converter()
    >>> onx = to_onnx(clf, X[:1], options={SoftplusMLPClassifier: {"zipmap": False}})
    >>> session = onnxruntime.InferenceSession(
    ...     onx.SerializeToString(), providers=["CPUExecutionProvider"])
    >>> label, proba = session.run(None, {session.get_inputs()[0].name: X})
    >>> bool((label == clf.predict(X)).all())
    True
    >>> bool(np.abs(proba - clf.predict_proba(X)).max() < 1e-5)
    True
    """
    try:
        from skl2onnx import update_registered_converter
        from skl2onnx.common.data_types import (
            BooleanTensorType,
            DoubleTensorType,
            FloatTensorType,
            Int64TensorType,
        )
        from skl2onnx.common.shape_calculator import (
            calculate_linear_classifier_output_shapes,
        )
        from skl2onnx.common.utils import (
            check_input_and_output_numbers,
            check_input_and_output_types,
        )
    except ImportError as error:
        # skmlp is installed from its repository, not from PyPI: an extra
        # named after the package would find no distribution.
        raise ImportError(
            "register_onnx_converter needs skl2onnx, onnx and onnxruntime: "
            "install the onnx extra from a clone of skmlp's repository with "
            'pip install ".[onnx]"'
        ) from error

    from sklearn.utils.validation import check_is_fitted

    from ._mlp import SoftplusMLPClassifier, SoftplusMLPRegressor

    def output_shapes(operator):
        calculate_linear_classifier_output_shapes(operator)
        model = operator.raw_operator
        if model.out_activation_ == "logistic":
            # skl2onnx declares a label per row; multilabel has one per label.
            n_rows = operator.inputs[0].get_first_dimension()
            operator.outputs[0].type = Int64TensorType([n_rows, model.n_outputs_])

    update_registered_converter(
        SoftplusMLPClassifier,
        _ALIAS,
        output_shapes,
        _convert,
        options={"zipmap": [True, False, "columns"], "nocl": [False, True]},
    )

    def regressor_output_shapes(operator):
        # skl2onnx's own calculator reads the number of targets from a
        # coef_ that this estimator does not have; its checks are kept: one
        # input tensor of numbers (a DataFrame's columns as several inputs
        # made a graph whose MatMul read the first column alone).
        # An unfitted model: scikit-learn's NotFittedError, not an
        # AttributeError on n_outputs_ below.
        check_is_fitted(operator.raw_operator)
        check_input_and_output_numbers(
            operator, input_count_range=1, output_count_range=1
        )
        check_input_and_output_types(
            operator,
            good_input_types=[
                BooleanTensorType,
                DoubleTensorType,
                FloatTensorType,
                Int64TensorType,
            ],
        )
        input_type = operator.inputs[0].type
        if not isinstance(input_type, DoubleTensorType):
            input_type = FloatTensorType()
        n_rows = operator.inputs[0].get_first_dimension()
        model = operator.raw_operator
        operator.outputs[0].type = input_type.__class__([n_rows, model.n_outputs_])

    update_registered_converter(
        SoftplusMLPRegressor,
        _REGRESSOR_ALIAS,
        regressor_output_shapes,
        _convert_regressor,
    )


def _convert(scope, operator, container):
    """skl2onnx converter: add the forward pass of the classifier to the graph."""
    from onnx import TensorProto
    from skl2onnx.algebra.onnx_ops import (
        OnnxArgMax,
        OnnxCast,
        OnnxGather,
        OnnxGreater,
        OnnxSigmoid,
        OnnxSoftmax,
    )
    from skl2onnx.common.utils_classifier import get_label_classes

    model = operator.raw_operator
    opset = container.target_opset
    label_output, proba_output = operator.outputs[:2]

    activation, dtype = _output_layer(operator, model, opset)

    if model.out_activation_ == "logistic":
        probabilities = OnnxSigmoid(
            activation, op_version=opset, output_names=[proba_output]
        )
        label = OnnxCast(
            OnnxGreater(probabilities, np.array([0.5], dtype), op_version=opset),
            to=TensorProto.INT64,
            op_version=opset,
            output_names=[label_output],
        )
        probabilities.add_to(scope, container)
        label.add_to(scope, container)
        return
    probabilities = OnnxSoftmax(
        activation, axis=1, op_version=opset, output_names=[proba_output]
    )
    label_index = OnnxArgMax(probabilities, axis=1, keepdims=0, op_version=opset)
    label = OnnxGather(
        # get_label_classes honours the nocl option (labels 0..K-1), which
        # skl2onnx's ZipMap also reads.
        _onnx_labels(get_label_classes(scope, model)),
        label_index,
        axis=0,
        op_version=opset,
        output_names=[label_output],
    )
    probabilities.add_to(scope, container)
    label.add_to(scope, container)


def _convert_regressor(scope, operator, container):
    """skl2onnx converter: add the forward pass of the regressor to the graph."""
    from skl2onnx.algebra.onnx_ops import OnnxExp, OnnxIdentity

    model = operator.raw_operator
    opset = container.target_opset
    activation, _ = _output_layer(operator, model, opset)
    # The inverse of the loss's link: the identity or, for the Poisson
    # deviance's log link, exp.
    link_inverse = OnnxExp if model.out_activation_ == "exp" else OnnxIdentity
    prediction = link_inverse(
        activation, op_version=opset, output_names=[operator.outputs[0]]
    )
    prediction.add_to(scope, container)


def _output_layer(operator, model, opset):
    """The output layer's pre-activation node of the network on the graph's
    input, and the dtype it is computed in."""
    from onnx import TensorProto
    from skl2onnx.algebra.onnx_ops import OnnxAdd, OnnxCast, OnnxMatMul
    from skl2onnx.common.data_types import guess_numpy_type

    dtype = guess_numpy_type(operator.inputs[0].type)
    activation = operator.inputs[0]
    if dtype not in (np.float32, np.float64):
        # Integer and boolean inputs are computed in float32, as skl2onnx
        # does for scikit-learn's own models.
        dtype = np.float32
        activation = OnnxCast(activation, to=TensorProto.FLOAT, op_version=opset)

    last = len(model.coefs_) - 1
    for layer, (coef, intercept) in enumerate(zip(model.coefs_, model.intercepts_)):
        activation = OnnxAdd(
            OnnxMatMul(activation, coef.astype(dtype), op_version=opset),
            intercept.astype(dtype),
            op_version=opset,
        )
        if layer < last:
            activation = _softplus(activation, dtype, opset)

    return activation, dtype


def _softplus(z, dtype, opset):
    """Softplus of the node ``z`` in ``dtype``.

    onnxruntime implements the ``Softplus`` operator for float32 only (and
    without overflow); in float64 it is spelled out as
    ``max(z, 0) + log(1 + exp(-|z|))``, whose ``exp`` cannot overflow.
    """
    from skl2onnx.algebra.onnx_ops import (
        OnnxAbs,
        OnnxAdd,
        OnnxExp,
        OnnxLog,
        OnnxNeg,
        OnnxRelu,
        OnnxSoftplus,
    )

    if dtype == np.float32:
        return OnnxSoftplus(z, op_version=opset)
    decay = OnnxExp(
        OnnxNeg(OnnxAbs(z, op_version=opset), op_version=opset), op_version=opset
    )
    return OnnxAdd(
        OnnxRelu(z, op_version=opset),
        OnnxLog(
            OnnxAdd(decay, np.array([1], dtype=dtype), op_version=opset),
            op_version=opset,
        ),
        op_version=opset,
    )


def _onnx_labels(classes):
    """The class labels as the tensor the ``label`` output is gathered from.

    skl2onnx's shape calculator declares the ``label`` output string for
    string labels and int64 for all others, which is exact: scikit-learn
    accepts float labels only when they are whole numbers.
    """
    if all(isinstance(label, str) for label in classes):
        return np.array(classes.tolist(), dtype=object)
    return classes.astype(np.int64)
