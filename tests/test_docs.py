"""The documentation is true to the code.

- ``docs/api.md`` equals what ``docs/build_api.py`` generates from the docstrings now;
- every relative link in ``docs/*.md`` and ``README.md`` points to an existing file (and
  heading, for ``#anchors`` into markdown files);
- every public class and function has a docstring with a numpydoc ``Parameters`` section when
  it takes parameters;
- the code blocks of ``docs/concepts.md`` marked ``<!-- runnable -->`` run, in order, as one
  script, and print what the page says they print;
- ``docs/cli.md`` documents every subcommand, every option and every exit code;
- every measured figure quoted in ``docs/reproducing.md``'s runtime table is in its source file.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)
RUNNABLE = re.compile(r"<!-- runnable -->\n```python\n(.*?)\n```", re.S)
PARAMETERS = re.compile(r"^Parameters\n-{3,}$", re.M)
ATTRIBUTES = re.compile(r"^Attributes\n-{3,}$", re.M)


def _build_api():
    spec = importlib.util.spec_from_file_location("build_api", DOCS / "build_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- api.md


def test_api_md_is_up_to_date():
    expected = _build_api().render()
    current = (DOCS / "api.md").read_text(encoding="utf-8")
    if current != expected:
        diff = "\n".join(list(difflib.unified_diff(
            current.splitlines(), expected.splitlines(), "docs/api.md (file)",
            "docs/api.md (from the docstrings)", lineterm="", n=1))[:60])
        pytest.fail("docs/api.md is out of date with the docstrings: run "
                    f"`python docs/build_api.py` and commit the result.\n{diff}")


def test_api_md_covers_every_public_name():
    import sklearn_genre
    import sklearn_genre.datasets

    text = (DOCS / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^### (\S+)$", text, re.M))
    public = {n for n in sklearn_genre.__all__ if not n.startswith("__")}
    public |= set(sklearn_genre.datasets.__all__)
    assert public <= documented, sorted(public - documented)


# ----------------------------------------------------------------------------- links


def _strip_code(text):
    text = FENCE.sub("", text)
    return re.sub(r"`[^`\n]*`", "", text)


def _slug(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links: their text
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def _anchors(path):
    anchors, seen = set(), {}
    for _, title in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        slug = _slug(title)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def _markdown_files():
    # (file, folder its relative links are resolved from)
    files = [(p, p.parent) for p in sorted(DOCS.glob("*.md"))]
    files += [(p, p.parent) for p in sorted((ROOT / "benchmarks").glob("*.md"))]
    files.append((ROOT / "README.md", ROOT))
    return files


def test_relative_links_point_to_existing_files():
    broken = []
    n_checked = 0
    for path, base in _markdown_files():
        for m in LINK.finditer(_strip_code(path.read_text(encoding="utf-8"))):
            target = m.group(1) or m.group(2)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            dest = (base / file_part).resolve() if file_part else path
            n_checked += 1
            where = f"{path.relative_to(ROOT)}: ({target})"
            if not dest.exists():
                broken.append(f"{where}: {dest} does not exist")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{where}: no heading #{anchor} in {dest.relative_to(ROOT)}")
    assert n_checked > 20  # the pages do link to each other
    assert not broken, "\n".join(broken)


# ----------------------------------------------------------------------------- docstrings

#: Public names whose docstring lacks what the check below asks for (reported to the lead).
#: A name is removed from here when its docstring is fixed; the test fails on a stale entry.
KNOWN_INCOMPLETE = {}


_MAIN_METHODS = {"fit", "partial_fit", "predict", "predict_proba", "transform", "split",
                 "score"}


def _takes_parameters(func, *, bound):
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return False
    return bool(params[1:] if bound else params)


def _own_init(cls):
    """The ``__init__`` that runs for ``cls`` if sklearn_genre defines it, else None."""
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            return vars(klass)["__init__"] if klass.__module__.startswith("sklearn_genre") \
                else None
    return None


def _docstring_problems():
    """``{name: problem}`` for every public class, function, method and property."""
    build_api = _build_api()
    problems = {}
    for _, name, obj in build_api.public_names():
        if build_api.kind_of(obj) == "constant":
            continue
        doc = inspect.cleandoc(obj.__doc__ or "")
        if not doc:
            problems[name] = "no docstring"
            continue
        if not isinstance(obj, type):
            if _takes_parameters(obj, bound=False) and not PARAMETERS.search(doc):
                problems[name] = "no Parameters section"
            continue
        init = _own_init(obj)
        if init is not None and _takes_parameters(init, bound=True):
            if dataclasses.is_dataclass(obj) or hasattr(obj, "_fields"):
                if not (PARAMETERS.search(doc) or ATTRIBUTES.search(doc)):
                    problems[name] = "fields not documented (no Parameters or Attributes section)"
            elif not PARAMETERS.search(doc):
                problems[name] = "no Parameters section"
        for member_name, kind, member, owner in build_api.own_members(obj):
            key = f"{owner.__qualname__}.{member_name}"
            # An override of a scikit-learn / skorch method (skorch's callback hooks,
            # fit_loop, get_n_splits, ...) keeps that method's meaning and parameters,
            # documented upstream (docs/api.md shows the upstream docstring when it has
            # none); the main estimator methods are held to the full standard.
            upstream = any(member_name in vars(k) for k in obj.__mro__
                           if not k.__module__.startswith("sklearn_genre"))
            if upstream and member_name not in _MAIN_METHODS:
                continue
            member_doc = inspect.cleandoc(member.__doc__ or "")
            if not member_doc:
                problems[key] = "no docstring"
                continue
            if kind == "property":
                continue
            if _takes_parameters(member, bound=kind != "staticmethod") \
                    and not PARAMETERS.search(member_doc):
                problems[key] = "no Parameters section"
    return problems


def test_public_docstrings_document_their_parameters():
    problems = _docstring_problems()
    new = {k: v for k, v in problems.items() if k not in KNOWN_INCOMPLETE}
    assert not new, "public names without a complete docstring:\n" + "\n".join(
        f"  {k}: {v}" for k, v in sorted(new.items()))
    fixed = sorted(set(KNOWN_INCOMPLETE) - set(problems))
    assert not fixed, f"fixed now; remove from KNOWN_INCOMPLETE in {__file__}: {fixed}"


# ----------------------------------------------------------------------------- concepts.md


def test_concepts_code_runs_as_written(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    blocks = RUNNABLE.findall((DOCS / "concepts.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 8
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace = {"__name__": "concepts"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/concepts.md (runnable block {i + 1})", "exec"), namespace)
    ns = namespace
    # What the page's comments say:
    assert (len(ns["train"]), len(ns["valid"]), len(ns["test"])) == (64, 8, 8)
    assert ns["X"].shape == (80, 32, 44) and str(ns["X"].dtype) == "float32"
    assert ns["proba"].shape == (8, 8)
    assert ns["official"].status == "clean"
    assert ns["random_leak"].status == "leak (ignored)" and ns["random_leak"].n_shared_artists
    assert {"confusion_matrix", "learning_curves"} <= set(ns["results"]["files"])
    assert ns["prediction"].n_windows == 3 and len(ns["prediction"].top_k) == 3
    assert (tmp_path / "genre_model.joblib").is_file()
    assert ns["experiment"].run_dir == Path("runs") / "cnn-official"
    assert (tmp_path / "runs" / "cnn-official" / "model.joblib").is_file()
    assert ns["shipped"].named_steps["mel"].memory is None
    assert ns["again"].results["leakage"]["status"] == "leak (warned)"


def test_doc_python_blocks_compile():
    for path in sorted(DOCS.glob("*.md")):
        if path.name == "api.md":  # signatures, not code
            continue
        text = path.read_text(encoding="utf-8")
        for i, block in enumerate(re.findall(r"```python\n(.*?)\n```", text, re.S)):
            compile(block, f"{path.name} (python block {i + 1})", "exec")


# ----------------------------------------------------------------------------- cli.md


def test_cli_md_documents_every_command_option_and_exit_code():
    import argparse

    from sklearn_genre.cli import build_parser, console

    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    sections = set(re.findall(r"^## (\S+)$", text, re.M))
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = []
    for command, subparser in sub.choices.items():
        if command not in sections:
            missing.append(f"no section '## {command}'")
        for action in subparser._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help" and f"`{option}" not in text:
                    missing.append(f"{command} {option}")
    for option in ("--quiet", "--verbose", "--version"):
        if f"`{option}`" not in text:
            missing.append(option)
    codes = [getattr(console, n) for n in dir(console) if n.startswith("EXIT_")]
    table = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    missing += [f"exit code {c}" for c in codes if f"| {c} |" not in table]
    assert not missing, missing


# ----------------------------------------------------------------------------- reproducing.md


def test_reproducing_quotes_measured_figures_from_their_sources():
    text = (DOCS / "reproducing.md").read_text(encoding="utf-8")
    table = text.split("<!-- measured-table -->", 1)[1].strip().split("\n\n", 1)[0]
    rows = [r for r in table.splitlines()[2:] if r.startswith("|")]
    assert rows
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        measured, source = cells[2], cells[3]
        number = re.match(r"[\d.,]+", measured).group(0).replace(",", "")
        link = re.search(r"\]\(([^)]+)\)", source).group(1)
        content = (DOCS / link).resolve().read_text(encoding="utf-8")
        found = re.search(rf"(?<![\d.]){re.escape(number)}(?!\d)", content)
        assert found, f"{measured!r} is not in {link} (re-run or update the table)"
