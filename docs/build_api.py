"""Generate ``docs/api.md``, the API reference, from the docstrings of the public names.

The public names are ``sklearn_genre.__all__`` (resolved through the package's lazy exports)
and ``sklearn_genre.datasets.__all__``. Each is documented where it is defined, grouped by
public module: the signature, the full docstring, and for classes the public methods and
properties defined in sklearn_genre (inherited scikit-learn / skorch methods are documented
upstream). Module-level constants show their value and their ``#:`` comment.

    python docs/build_api.py            # rewrite docs/api.md
    python docs/build_api.py --check    # exit 1 if docs/api.md is out of date

``tests/test_docs.py`` runs :func:`render` and compares it with the file.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
from pathlib import Path

API_PATH = Path(__file__).resolve().parent / "api.md"

#: Public modules in data-flow order (the order of the sections).
MODULE_ORDER = (
    "sklearn_genre.audio",
    "sklearn_genre.logmel",
    "sklearn_genre.extraction",
    "sklearn_genre.features",
    "sklearn_genre.cache",
    "sklearn_genre.store",
    "sklearn_genre.classifiers",
    "sklearn_genre.datasets",
    "sklearn_genre.selection",
    "sklearn_genre.evaluation",
    "sklearn_genre.leakage",
    "sklearn_genre.report",
    "sklearn_genre.provenance",
    "sklearn_genre.inference",
    "sklearn_genre.persistence",
    "sklearn_genre.checkpointing",
    "sklearn_genre.exceptions",
)

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_MAX_VALUE = 400


def public_names():
    """``[(import_from, name, obj)]`` of every public name, top-level package first.

    A name exported both by ``sklearn_genre`` and ``sklearn_genre.datasets`` is listed once,
    with the top-level import.
    """
    import sklearn_genre
    import sklearn_genre.datasets as datasets

    out, seen = [], set()
    for package in (sklearn_genre, datasets):
        for name in package.__all__:
            if name.startswith("__") or name in seen:
                continue
            seen.add(name)
            out.append((package.__name__, name, getattr(package, name)))
    return out


def defining_module(name, obj, import_from):
    """The module that defines ``obj`` (for constants: whose ``__all__`` holds ``name``)."""
    module = getattr(obj, "__module__", None)
    if isinstance(obj, (type,)) or inspect.isfunction(obj):
        return module
    candidates = [m for m in MODULE_ORDER if m != "sklearn_genre.datasets"]
    candidates += [f"sklearn_genre.datasets.{m}" for m in
                   ("download", "fma", "folder", "home", "splits", "synthetic", "_bunch")]
    for candidate in candidates:
        try:
            mod = importlib.import_module(candidate)
        except ImportError:
            continue
        if name in getattr(mod, "__all__", ()) and getattr(mod, name, None) is obj:
            return candidate
    return import_from


def section_of(module):
    """Public section a defining module belongs to (``sklearn_genre.datasets.fma`` ->
    ``sklearn_genre.datasets``)."""
    if module.startswith("sklearn_genre.datasets"):
        return "sklearn_genre.datasets"
    return module


def constant_comment(module, name):
    """The ``#:`` comment lines right above ``NAME = ...`` in ``module``'s source."""
    try:
        lines = inspect.getsource(importlib.import_module(module)).splitlines()
    except (OSError, TypeError):
        return ""
    for i, line in enumerate(lines):
        if re.match(rf"^{re.escape(name)}\s*(:[^=]*)?=", line):
            comment = []
            j = i - 1
            while j >= 0 and lines[j].startswith("#:"):
                comment.insert(0, lines[j][2:].strip())
                j -= 1
            return " ".join(comment)
    return ""


def stable_repr(value):
    """A repr that is the same in every process (sets sorted, no memory addresses)."""
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    if isinstance(value, (set, frozenset)):
        inner = ", ".join(stable_repr(v) for v in sorted(value, key=repr))
        return f"{type(value).__name__}({{{inner}}})"
    if isinstance(value, dict):
        inner = ", ".join(f"{stable_repr(k)}: {stable_repr(v)}" for k, v in value.items())
        return f"{{{inner}}}"
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        inner = ", ".join(stable_repr(v) for v in value)
        if isinstance(value, tuple):
            return f"({inner}{',' if len(value) == 1 else ''})"
        return f"[{inner}]"
    return _ADDRESS.sub("", repr(value))


def signature(obj, name):
    """``name(params)`` with stable default reprs; ``name(...)`` when not introspectable."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return f"{name}(...)"
    params = []
    for p in sig.parameters.values():
        if p.default is not inspect.Parameter.empty:
            p = p.replace(default=_Raw(stable_repr(p.default)))
        params.append(p.replace(annotation=inspect.Parameter.empty))
    sig = sig.replace(parameters=params, return_annotation=inspect.Signature.empty)
    return f"{name}{sig}"


class _Raw:
    """A default value printed as given (for :func:`signature`)."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


def docstring(obj):
    """The cleaned docstring of ``obj`` (not inherited from outside sklearn_genre)."""
    doc = obj.__doc__ if isinstance(obj, type) else inspect.getdoc(obj)
    if isinstance(obj, type):
        doc = inspect.cleandoc(doc) if doc else None
    return doc or ""


def own_members(cls):
    """Public methods and properties of ``cls`` defined in sklearn_genre classes.

    Returns ``[(name, kind, member, owner)]`` sorted by name, with kind ``"method"``,
    ``"staticmethod"``, ``"classmethod"`` or ``"property"`` and ``owner`` the sklearn_genre
    class that defines the member.
    """
    members = {}
    for klass in reversed(cls.__mro__):
        if not klass.__module__.startswith("sklearn_genre"):
            continue
        for name, raw in vars(klass).items():
            if name.startswith("_"):
                continue
            if isinstance(raw, property):
                members[name] = ("property", raw, klass)
            elif isinstance(raw, staticmethod):
                members[name] = ("staticmethod", raw.__func__, klass)
            elif isinstance(raw, classmethod):
                members[name] = ("classmethod", raw.__func__, klass)
            elif inspect.isfunction(raw):
                members[name] = ("method", raw, klass)
    # a member that a third-party class earlier in the MRO overrides is not ours
    for name, (_, member, _) in list(members.items()):
        resolved = inspect.getattr_static(cls, name, None)
        resolved = getattr(resolved, "__func__", resolved)
        if resolved is not member and not isinstance(resolved, property):
            del members[name]
    return [(name, *members[name]) for name in sorted(members)]


def _documented_in(cls, name):
    """``module.Class.name`` of the nearest third-party base of ``cls`` defining ``name``."""
    for klass in cls.__mro__[1:]:
        if name in vars(klass) and not klass.__module__.startswith("sklearn_genre"):
            return f"{klass.__module__}.{klass.__qualname__}.{name}"
    return None


def kind_of(obj):
    """``"class"``, ``"exception"``, ``"warning"``, ``"function"`` or ``"constant"``."""
    if isinstance(obj, type):
        if issubclass(obj, Warning):
            return "warning"
        if issubclass(obj, BaseException):
            return "exception"
        return "class"
    if inspect.isfunction(obj):
        return "function"
    return "constant"


def _fence(text):
    return ["```text", text, "```"] if text else ["*(no docstring)*"]


def _anchor(name):
    return name.lower()


def render():
    """The full text of ``docs/api.md``."""
    import sklearn_genre

    entries = {}
    for import_from, name, obj in public_names():
        module = defining_module(name, obj, import_from)
        entries.setdefault(section_of(module), []).append((module, import_from, name, obj))

    submodule_rank = {m: i for i, m in enumerate(
        ("fma", "download", "synthetic", "folder", "home", "splits", "_bunch"))}
    entries["sklearn_genre.datasets"] = sorted(
        entries.get("sklearn_genre.datasets", []),
        key=lambda e: (submodule_rank.get(e[0].rsplit(".", 1)[-1], 99), e[2]))
    if not entries["sklearn_genre.datasets"]:
        del entries["sklearn_genre.datasets"]
    unknown = sorted(set(entries) - set(MODULE_ORDER))
    order = [m for m in MODULE_ORDER if m in entries] + unknown

    rendered_owner = {}  # private base class -> the public class whose entry lists its members
    lines = [
        "# API reference",
        "",
        "<!-- Generated by docs/build_api.py from the docstrings; do not edit by hand. -->",
        "<!-- Regenerate with: python docs/build_api.py -->",
        "",
        f"sklearn_genre {sklearn_genre.__version__}. Every name in `sklearn_genre.__all__` and "
        "`sklearn_genre.datasets.__all__`, grouped by the module that defines it, in the order "
        "of the data flow. Names exported by the package itself import as "
        "`from sklearn_genre import NAME`; the others as `from sklearn_genre.datasets import "
        "NAME`. Classes list the methods defined in sklearn_genre; inherited scikit-learn and "
        "skorch methods (`fit_transform`, `get_params`, `set_output`, `save_params`, ...) are "
        "documented upstream. See [concepts](concepts.md) for how the pieces fit together.",
        "",
        "## Contents",
        "",
    ]
    for module in order:
        names = ", ".join(f"[`{n}`](#{_anchor(n)})" for _, _, n, _ in entries[module])
        lines.append(f"- `{module}`: {names}")
    lines.append("")

    for module in order:
        lines += [f"## `{module}`", ""]
        mod_doc = inspect.getdoc(importlib.import_module(module)) or ""
        summary = mod_doc.split("\n\n")[0].replace("\n", " ")
        if summary:
            lines += [summary, ""]
        for defined_in, import_from, name, obj in entries[module]:
            kind = kind_of(obj)
            lines += [f"### {name}", ""]
            where = f"`from {import_from} import {name}`"
            if defined_in != import_from:
                where += f" (defined in `{defined_in}`)"
            lines += [f"*{kind}*, {where}", ""]
            if kind == "constant":
                value = stable_repr(obj)
                if len(value) > _MAX_VALUE:
                    value = value[:_MAX_VALUE] + " ..."
                comment = constant_comment(defined_in, name)
                if comment:
                    lines += [comment, ""]
                lines += ["```python", f"{name} = {value}", "```", ""]
                continue
            lines += ["```python", signature(obj, name), "```", ""]
            lines += _fence(docstring(obj)) + [""]
            if isinstance(obj, type):
                members = own_members(obj)
                shared = [(n, owner) for n, _, _, owner in members
                          if owner is not obj and owner in rendered_owner]
                if shared:
                    first = rendered_owner[shared[0][1]]
                    listed = ", ".join(f"`{n}`" for n, _ in shared)
                    lines += [f"Methods and properties shared with [`{first}`](#{_anchor(first)}) "
                              f"(defined in `{shared[0][1].__qualname__}`): {listed}.", ""]
                for member_name, member_kind, member, owner in members:
                    if owner is not obj:
                        if owner in rendered_owner and rendered_owner[owner] != name:
                            continue
                        rendered_owner.setdefault(owner, name)
                    if member_kind == "property":
                        lines += [f"#### {name}.{member_name}", "", "*property*", ""]
                        lines += _fence(inspect.getdoc(member) or "") + [""]
                        continue
                    shown = signature(member, f"{name}.{member_name}")
                    if member_kind == "method":
                        shown = shown.replace("(self, ", "(", 1).replace("(self)", "()", 1)
                    lines += [f"#### {name}.{member_name}", ""]
                    if member_kind != "method":
                        lines += [f"*{member_kind}*", ""]
                    lines += ["```python", shown, "```", ""]
                    if not (member.__doc__ or "").strip():
                        # Upstream text is not copied: it would tie this file to the
                        # installed skorch / scikit-learn version.
                        source = _documented_in(obj, member_name)
                        lines += [f"Overrides `{source}`; see its documentation." if source
                                  else "*(no docstring)*", ""]
                        continue
                    lines += _fence(inspect.getdoc(member) or "") + [""]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description="Generate docs/api.md from the docstrings.")
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if docs/api.md differs from the docstrings")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = API_PATH.read_text(encoding="utf-8") if API_PATH.exists() else ""
        if current != text:
            print(f"{API_PATH} is out of date: run `python docs/build_api.py`", file=sys.stderr)
            return 1
        print(f"{API_PATH} is up to date")
        return 0
    API_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {API_PATH} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
