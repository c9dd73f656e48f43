"""scikit-learn's training callbacks (``sklearn.callback``) in the epoch loop.

scikit-learn 1.9 lets an estimator report its fit as a tree of tasks to
callbacks such as :class:`sklearn.callback.ProgressBar` and
:class:`sklearn.callback.ScoringMonitor`. Here a call to ``fit`` or
``partial_fit`` is the root task and each epoch is one of its subtasks; a
callback whose ``on_fit_task_end`` returns True after an epoch stops the
training there. With an older scikit-learn everything here does nothing.

The model a task hands to the callbacks (``fitted_estimator``) is the whole
model that ``fit`` would keep if it stopped there: an epoch's is built
afresh for them from the run's result by the estimator's own function (the
one that names the fitted attributes, for the final model too); the root
task's is the model the estimator is about to take. The root task ends
before the estimator takes it, so that an error in a callback there leaves
the estimator as it was, as at any epoch.
"""

from ._sklearn_compat import add_callback_support, open_callback_context


def with_callback_support(cls):
    """Class decorator: give ``cls`` scikit-learn's callback API, if it has one.

    It adds :meth:`~sklearn.callback.CallbackSupportMixin.set_callbacks` and
    the method that opens a fit's callback context, which is all that
    scikit-learn's meta-estimators look for (they test
    ``hasattr(estimator, "set_callbacks")``). The estimator cannot simply
    inherit from the mixin: the class does not exist before scikit-learn 1.9,
    and the bases must stay ``(ClassifierMixin, BaseEstimator)`` in that
    order. With an older scikit-learn, ``cls`` is returned unchanged.

    Parameters
    ----------
    cls : type
        The estimator class.

    Returns
    -------
    cls : type
        The same class.
    """
    add_callback_support(cls)
    return cls


class EpochCallbacks:
    """The callback hooks of one call to ``fit`` or ``partial_fit``.

    Create it at the start of the call, before anything that can fail: it
    opens the callback context (and so calls the callbacks' ``setup``), whose
    ``teardown`` scikit-learn's ``_fit_context`` guarantees. Every method is a
    no-op when the estimator has no callback API, or has no callback and is
    not being fitted by a meta-estimator that tracks callbacks.

    Parameters
    ----------
    estimator : SoftplusMLPClassifier
        The estimator being trained.

    X, y, sample_weight : the arguments of ``fit``
        Passed on to the callbacks as given, so that a scoring callback sees
        the data and feature names the user passed; ``sample_weight`` goes to
        them as ``metadata`` when it is not None.

    max_epochs : int
        The most epochs this call can run: ``max_iter`` for ``fit``, 1 for
        ``partial_fit``.
    """

    def __init__(self, estimator, X, y, sample_weight, max_epochs):
        self._estimator = estimator
        self._context = open_callback_context(estimator, max_subtasks=max_epochs)
        if self._context is None:
            return
        self._data = {
            "X": X,
            "y": y,
            "metadata": {}
            if sample_weight is None
            else {"sample_weight": sample_weight},
        }
        self._epoch = None
        self._attributes_of = None
        self._context.call_on_fit_task_begin(estimator=estimator, **self._data)

    def set_model(self, attributes_of):
        """Take the estimator's function from a run's result to its fitted
        attributes (``_mlp.fitted_attributes`` on the call's validated
        view), once validation has made it: it names the attributes of
        each epoch's model."""
        self._attributes_of = attributes_of

    def begin_epoch(self):
        """Call ``on_fit_task_begin`` for the epoch about to run."""
        if self._context is None:
            return
        self._epoch = self._context.subcontext(task_name="epoch")
        self._epoch.call_on_fit_task_begin(estimator=self._estimator, **self._data)

    def end_epoch(self, result):
        """Call ``on_fit_task_end`` for the epoch that just finished.

        Parameters
        ----------
        result : callable
            Returns the run's result for the model of the epoch, new
            objects (``TrainingRun.result``): the model that ``fit``
            stopped there would give, with ``max_iter`` set to that epoch
            (with early stopping, the best epoch so far). Called only if a
            callback asks for the model (``fitted_estimator``).

        Returns
        -------
        stop : bool
            Whether a callback asks to stop the training after this epoch.
        """
        if self._context is None:
            return False
        return self._epoch.call_on_fit_task_end(
            estimator=self._estimator,
            **self._data,
            reconstruction_attributes=lambda: self._attributes_of(result()),
        )

    def end_fit(self, fitted):
        """Call ``on_fit_task_end`` of the whole call, before the estimator
        takes the new model.

        The model is written only once the hook has returned, so that a
        callback that raises there leaves the estimator as it was before the
        call, as it does at any epoch; the callbacks get the new model as
        ``fitted_estimator``, while ``estimator`` still holds the one from
        before the call.

        Parameters
        ----------
        fitted : dict
            The fitted attributes that the estimator is about to take,
            every attribute a fit writes: scikit-learn builds
            ``fitted_estimator`` as a shallow copy of the estimator with
            them set on it, and the copy keeps whatever they do not replace
            (setting attributes cannot remove one: the copy of an estimator
            fitted on named columns keeps their ``feature_names_in_`` in a
            refit on unnamed ones).
        """
        if self._context is None:
            return
        self._context.call_on_fit_task_end(
            estimator=self._estimator,
            **self._data,
            reconstruction_attributes=fitted,
        )
