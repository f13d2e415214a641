"""Every third-party import of the code, the tests, the notebook and the benchmarks comes from
a distribution that pyproject.toml declares (directly or through a declared package's own
requirements). CI builds a new environment from pyproject.toml alone, so an undeclared import
would pass only on a machine where someone had installed it by hand (issue 10: duckdb)."""

from __future__ import annotations

import ast
import json
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS = {"pipeline", "models", "tests", "benchmarks"}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _extras(requirement: str) -> list[str]:
    m = re.search(r"\[([^\]]+)\]", requirement.split(";")[0])
    return [e.strip() for e in m.group(1).split(",")] if m else []


def _imports(source: str) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
        elif (  # pytest.importorskip("x") is an import too
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", "") == "importorskip"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            out.add(str(node.args[0].value).split(".")[0])
    return out


def _used_modules() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    local = {p.stem for p in (ROOT / "tests").glob("*.py")}
    for folder in ("pipeline", "models", "tests", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            if folder == "models" and path.name.startswith("convert_"):
                continue  # one-off model conversions run in their own throwaway environment
            for mod in _imports(path.read_text(encoding="utf-8")):
                used.setdefault(mod, set()).add(path.relative_to(ROOT).as_posix())
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        for cell in json.loads(nb.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                for mod in _imports("".join(cell["source"])):
                    used.setdefault(mod, set()).add(nb.relative_to(ROOT).as_posix())
    return {
        m: where
        for m, where in used.items()
        if m not in sys.stdlib_module_names and m not in OURS and m not in local
    }


def _declared_closure() -> set[str]:
    """Declared distributions plus everything they require (with the extras asked for)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    todo = [(r, _extras(r)) for r in project["dependencies"]]
    for reqs in project.get("optional-dependencies", {}).values():
        todo += [(r, _extras(r)) for r in reqs]
    seen: set[str] = set()
    while todo:
        req, extras = todo.pop()
        name = _name(req)
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here: the import check below says which module is missing
        for sub in requires:
            marker = sub.split(";", 1)[1] if ";" in sub else ""
            wanted = re.findall(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
            if wanted and not set(wanted) & set(extras):
                continue
            todo.append((sub, _extras(sub)))
    return seen


def test_every_import_is_declared_in_pyproject():
    providers = metadata.packages_distributions()
    declared = _declared_closure()
    missing = []
    for mod, where in sorted(_used_modules().items()):
        dists = {_name(d) for d in providers.get(mod, [])}
        if not dists & declared:
            missing.append(f"{mod} (from {', '.join(sorted(where)[:3])}; installed as {dists})")
    assert not missing, "imports not declared in pyproject.toml: " + "; ".join(missing)


def test_the_check_sees_the_notebook_and_optional_imports():
    used = _used_modules()
    assert "duckdb" in used and "notebooks/audit_overview.ipynb" in used["duckdb"]
    assert "playwright" in used  # via pytest.importorskip


def test_ci_builds_a_new_environment_and_uses_its_python():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = re.search(r"\| set up[^|]*\| `([^`]+)`", readme).group(1)
    test = re.search(r"\| test \| `([^`]+)`", readme).group(1)
    lines = [ln.strip() for ln in script.splitlines() if ln.strip() and not ln.startswith("#")]
    venv = next(i for i, ln in enumerate(lines) if " -m venv " in ln and "$tmp" in ln)
    run_setup = lines.index(setup)
    run_tests = lines.index(test)
    assert venv < run_setup < run_tests
    assert any("PATH=" in ln and "$tmp/venv/bin" in ln for ln in lines[venv:run_setup])
