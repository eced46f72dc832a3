"""Private names of dependencies: all in sklearn_genre/_compat.py, each still there.

When a release of scikit-learn, skorch, joblib, torch or librosa removes or changes one of
them, these tests fail with a message naming the dependency and the symbol, before any
user sees an obscure ImportError or AttributeError.
"""

import ast
import importlib
import inspect
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

import sklearn_genre
from sklearn_genre import _compat

ROOT = Path(sklearn_genre.__file__).resolve().parents[1]
DEPENDENCIES = ("sklearn", "joblib", "skorch", "torch", "librosa")
DISTRIBUTION = {"sklearn": "scikit-learn"}
#: Modules whose names have no underscore but that are not part of the public API: joblib's
#: public API is its top-level namespace (``joblib.parallel.get_active_backend`` and the
#: backend classes are internals).
PRIVATE_MODULES = ("joblib.parallel", "joblib._parallel_backends")

#: (module, private name) that _compat imports, and the public alias it gives it.
PRIVATE_IMPORTS = [
    ("sklearn.base", "_fit_context", "fit_context"),
    ("sklearn.utils._param_validation", "HasMethods", "HasMethods"),
    ("sklearn.utils._param_validation", "Interval", "Interval"),
    ("sklearn.utils._param_validation", "InvalidParameterError", "InvalidParameterError"),
    ("sklearn.utils._param_validation", "Options", "Options"),
    ("sklearn.utils._param_validation", "StrOptions", "StrOptions"),
    ("sklearn.utils._param_validation", "validate_parameter_constraints",
     "validate_parameter_constraints"),
    ("sklearn.utils._param_validation", "validate_params", "validate_params"),
]


def _where(module):
    top = module.split(".")[0]
    return f"{DISTRIBUTION.get(top, top)} {version(DISTRIBUTION.get(top, top))}"


@pytest.mark.parametrize("module, name, alias", PRIVATE_IMPORTS,
                         ids=[f"{m}.{n}" for m, n, _ in PRIVATE_IMPORTS])
def test_private_symbol_still_exists(module, name, alias):
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        pytest.fail(f"{_where(module)} has no module {module} (needed for {name}): {exc}; "
                    "update sklearn_genre/_compat.py")
    assert hasattr(mod, name), (
        f"{_where(module)} no longer defines {module}.{name}; update sklearn_genre/_compat.py")
    assert getattr(_compat, alias) is getattr(mod, name)


def test_parameter_validation_behaves_as_assumed():
    """The constraint objects reject a bad value with InvalidParameterError (a ValueError)."""
    from numbers import Integral

    constraints = {"n": [_compat.Interval(Integral, 1, None, closed="left")],
                   "mode": [_compat.StrOptions({"a", "b"})]}
    _compat.validate_parameter_constraints(constraints, {"n": 3, "mode": "a"}, caller_name="f")
    with pytest.raises(_compat.InvalidParameterError, match="'n' parameter of f"):
        _compat.validate_parameter_constraints(constraints, {"n": 0, "mode": "a"},
                                               caller_name="f")
    assert issubclass(_compat.InvalidParameterError, ValueError)
    assert list(inspect.signature(_compat.fit_context).parameters) == [
        "prefer_skip_nested_validation"], f"{_where('sklearn')}: _fit_context's signature changed"


@pytest.mark.parametrize("owner, method, params", _compat.SKORCH_OVERRIDDEN_HOOKS,
                         ids=[f"{o}.{m}" for o, m, _ in _compat.SKORCH_OVERRIDDEN_HOOKS])
def test_overridden_skorch_hook_still_exists(owner, method, params):
    module, _, cls_name = owner.rpartition(".")
    cls = getattr(importlib.import_module(module), cls_name)
    assert hasattr(cls, method), (
        f"{_where('skorch')}: {owner}.{method} is gone; sklearn_genre overrides it "
        "(see sklearn_genre/_compat.py)")
    if params is None:
        assert isinstance(inspect.getattr_static(cls, method), property), (
            f"{_where('skorch')}: {owner}.{method} is no longer a property")
        return
    got = tuple(inspect.signature(getattr(cls, method)).parameters)
    assert got == params, (
        f"{_where('skorch')}: {owner}.{method} now takes {got}, sklearn_genre's override "
        f"assumes {params} (see sklearn_genre/_compat.py)")


def test_overrides_are_the_listed_ones():
    """Every underscore method of a dependency class overridden in the package is listed."""
    from sklearn_genre.callbacks import LabelScoring
    from sklearn_genre.classifiers import CNNClassifier

    listed = {m for _, m, _ in _compat.SKORCH_OVERRIDDEN_HOOKS}
    found = set()
    for cls in (CNNClassifier, LabelScoring):
        for klass in cls.__mro__:
            if not klass.__module__.startswith("sklearn_genre"):
                continue
            for name in vars(klass):
                if name.startswith("_") and not name.startswith("__") and any(
                        name in vars(base) for base in cls.__mro__
                        if not base.__module__.startswith("sklearn_genre")):
                    found.add(name)
    assert found == listed


def _private_imports(path):
    """``module.name`` of every private import of a dependency in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            top = node.module.split(".")[0]
            if top not in DEPENDENCIES:
                continue
            if node.module in PRIVATE_MODULES or any(
                    part.startswith("_") for part in node.module.split(".")):
                bad.append(node.module)
            bad += [f"{node.module}.{a.name}" for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")]
        elif isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] in DEPENDENCIES and any(p.startswith("_") for p in parts):
                    bad.append(a.name)
    return [f"{path.relative_to(ROOT)}:{name}" for name in bad]


def test_no_private_imports_elsewhere():
    files = [*(ROOT / "sklearn_genre").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]
    files = [f for f in files if f.name != "_compat.py" and f.name != "test_compat.py"]
    bad = [hit for f in files for hit in _private_imports(f)]
    assert not bad, ("private names of dependencies imported outside sklearn_genre/_compat.py "
                     f"(route them through it, with a test here): {bad}")


def test_the_scan_finds_private_imports(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    sample = tmp_path / "sample.py"
    sample.write_text("from joblib.parallel import get_active_backend as g\n"
                      "from sklearn.utils._param_validation import Interval\n"
                      "from sklearn.base import _fit_context, clone\n"
                      "import torch._dynamo\nfrom numpy import _private\nimport joblib\n")
    assert _private_imports(sample) == [
        "sample.py:joblib.parallel", "sample.py:sklearn.utils._param_validation",
        "sample.py:sklearn.base._fit_context", "sample.py:torch._dynamo"]
