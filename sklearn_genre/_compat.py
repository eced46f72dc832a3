"""The only place sklearn_genre touches non-public names of its dependencies.

Everything here has no public equivalent in the versions we support; each item says why it
is needed and what would replace it. ``tests/test_compat.py`` checks every item against the
installed versions and fails with a message naming the dependency and the symbol when a
release removes or changes one; ``tests/test_compat.py::test_no_private_imports_elsewhere``
fails when any other module imports a private name of scikit-learn, joblib, skorch, torch or
librosa. Checked with scikit-learn 1.9.1, skorch 1.4.0, joblib 1.6.0 (the shared development
environment) and, through ``.ci/run``'s second environment, the newest releases of the day.

scikit-learn parameter validation (``sklearn.utils._param_validation``, ``sklearn.base``)
    ``_parameter_constraints`` checked when ``fit`` starts is scikit-learn's own convention
    for estimators (its developer guide describes it), but the machinery is private:
    ``Interval``, ``StrOptions``, ``Options``, ``HasMethods`` (constraint objects),
    ``validate_parameter_constraints`` (check a dict of values, used by the classifiers),
    ``validate_params`` (the decorator for public functions, used by the data set loaders),
    ``InvalidParameterError`` (what they raise: a ``ValueError`` and ``TypeError``, which is
    what callers should catch) and ``fit_context`` (``sklearn.base._fit_context``: validates
    ``_parameter_constraints`` once per ``fit`` and skips nested validation).
    ``BaseEstimator._validate_params`` is no better (also underscored). Replacing all of it
    with our own validation would duplicate scikit-learn's error messages; when scikit-learn
    makes it public, only this module changes.

skorch hooks overridden by subclasses (:data:`SKORCH_OVERRIDDEN_HOOKS`)
    Not imports, but the same risk: the classifiers override the ``NeuralNet._default_callbacks``
    property (skorch's documented way to change the default callbacks, though underscored),
    ``NeuralNet._get_param_names`` (drops skorch's bookkeeping ``_params_to_validate`` so
    ``clone`` works), ``NeuralNet._get_params_callbacks`` and ``_set_params_callback``
    (``callbacks__<name>=None`` round-trips through ``get_params``/``set_params``), and
    ``callbacks.LabelScoring`` overrides ``EpochScoring._scoring`` (score with the original
    labels instead of the encoded ones). skorch offers no public hook for these. The test
    checks that each still exists with the signature the override assumes.

Not here because a public way exists: joblib's active backend (``joblib.parallel.
get_active_backend``) was replaced in :mod:`sklearn_genre.extraction` by asking
``joblib.Parallel`` itself (it raises ``ValueError`` for a backend without generators) and by
comparing process ids (warnings are recorded only in worker processes).
"""

from sklearn.base import _fit_context as fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)

__all__ = [
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "Options",
    "SKORCH_OVERRIDDEN_HOOKS",
    "StrOptions",
    "fit_context",
    "validate_parameter_constraints",
    "validate_params",
]

#: ``(class, method, parameters)`` of the private skorch methods our subclasses override;
#: ``parameters`` are the names the override's ``super()`` call passes (None: a property).
SKORCH_OVERRIDDEN_HOOKS = (
    ("skorch.NeuralNet", "_default_callbacks", None),
    ("skorch.NeuralNet", "_get_param_names", ("self",)),
    ("skorch.NeuralNet", "_get_params_callbacks", ("self", "deep")),
    ("skorch.NeuralNet", "_set_params_callback", ("self", "params")),
    ("skorch.callbacks.EpochScoring", "_scoring", ("self", "net", "X_test", "y_test")),
)
