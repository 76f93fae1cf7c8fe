"""The architecture stays as designed: layers only point down, no import cycles, no HTTP in services.

The layers are the import contracts in ``.importlinter`` (top to bottom: the web side and the CLI,
what wires Flask, services, the audit hook, models, base modules), checked with import-linter;
cycles are found with grimp (the import graph import-linter builds on), ``TYPE_CHECKING``-only
imports left out.
"""
import ast
import shutil
import subprocess  # nosec B404: runs import-linter on this repository's own code
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = "from importlinter.cli import lint_imports_command; lint_imports_command()"
# What only the web side may use: a service returns data or raises a domain error
# (crm.services.errors), and the view turns it into a response.
HTTP_NAMES = frozenset({
    "Response", "Request", "request", "session", "abort", "redirect", "make_response", "send_file",
    "send_from_directory", "render_template", "render_template_string", "flash", "jsonify", "Markup",
})


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """import-linter on the code under ``root`` with its ``.importlinter`` (no cache: tests run in parallel)."""
    return subprocess.run(  # nosec B603: a fixed command, no shell
        [sys.executable, "-c", LINT_IMPORTS, "--no-cache"], cwd=root, capture_output=True, text=True, timeout=300,
    )


def test_every_import_contract_is_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_upward_import_breaks_the_layers_contract(tmp_path):
    """A model importing a view, in a copy of crm/, fails the check and says which import it was."""
    shutil.copytree(ROOT / "crm", tmp_path / "crm", ignore=shutil.ignore_patterns("__pycache__", "*.geojson"))
    shutil.copy(ROOT / ".importlinter", tmp_path)
    region = tmp_path / "crm" / "models" / "region.py"
    region.write_text(region.read_text() + "\nfrom crm.views import dashboard  # noqa: E402\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    assert "crm.models is not allowed to import crm.views" in result.stdout
    assert "crm.models.region -> crm.views.dashboard" in result.stdout


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The groups of modules that import each other round in a circle (strongly connected
    components of more than one module, Tarjan's algorithm), each sorted, in name order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = stack[stack.index(module):]
            del stack[stack.index(module):]
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return sorted(cycles)


def describe_cycles(graph: grimp.ImportGraph, cycles: list[list[str]]) -> str:
    """Each cycle's imports, one per line with its line number, for the failure message."""
    lines = []
    for number, group in enumerate(cycles, 1):
        lines.append(f"Import cycle {number} ({len(group)} modules):")
        for importer in group:
            for imported in sorted(graph.find_modules_directly_imported_by(importer) & set(group)):
                details = graph.get_import_details(importer=importer, imported=imported)
                where = ", ".join(f"l.{d['line_number']}" for d in details)
                lines.append(f"  {importer} -> {imported} ({where})")
    return "\n".join(lines)


def test_no_import_cycle_among_crm_modules():
    graph = grimp.build_graph("crm", exclude_type_checking_imports=True, cache_dir=None)
    cycles = import_cycles(graph)
    assert not cycles, "\n" + describe_cycles(graph, cycles)


def test_the_cycle_check_finds_and_shows_a_cycle():
    graph = grimp.ImportGraph()
    for importer, imported in (("app.a", "app.b"), ("app.b", "app.c"), ("app.c", "app.a"), ("app.c", "app.d")):
        graph.add_import(importer=importer, imported=imported, line_number=3, line_contents=f"import {imported}")
    cycles = import_cycles(graph)
    assert cycles == [["app.a", "app.b", "app.c"]]
    assert describe_cycles(graph, cycles).splitlines() == [
        "Import cycle 1 (3 modules):", "  app.a -> app.b (l.3)", "  app.b -> app.c (l.3)", "  app.c -> app.a (l.3)",
    ]


def http_imports(path: Path) -> list[str]:
    """``from flask import request``-style imports (or ``flask.abort`` uses) of HTTP names in a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ("flask", "werkzeug"):
            found += [f"l.{node.lineno} from {node.module} import {a.name}" for a in node.names if a.name in HTTP_NAMES]
        elif (isinstance(node, ast.Attribute) and node.attr in HTTP_NAMES and isinstance(node.value, ast.Name)
              and node.value.id == "flask"):
            found.append(f"l.{node.lineno} flask.{node.attr}")
    return found


def test_services_and_models_speak_no_http():
    """No request, response, abort, redirect or markup below the web side (crm.services, crm.models);
    a service may read settings from ``current_app`` and ask ``has_request_context``."""
    offenders = {
        str(path.relative_to(ROOT)): found
        for package in ("services", "models") for path in sorted((ROOT / "crm" / package).rglob("*.py"))
        if (found := http_imports(path))
    }
    assert not offenders, offenders


def test_the_http_check_finds_a_response_import(tmp_path):
    module = tmp_path / "service.py"
    module.write_text("import flask\nfrom flask import Response, current_app\n\n\ndef f():\n    flask.abort(404)\n")
    assert http_imports(module) == ["l.2 from flask import Response", "l.6 flask.abort"]
