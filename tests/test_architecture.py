"""The shape of the tree: no import cycles, no file past 400 lines, storage on its own.

The import graph is grimp's, over the modules of ``fieldapi``, ``storage`` and
``mobile_contract``: every ``import`` and ``from … import`` is an edge, those inside
functions included. An import put off into a function still ties the two modules together;
it only hides the cycle from the interpreter until the day the function runs first.
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

PACKAGES = ("fieldapi", "storage", "mobile_contract")
ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400
# Revisions are history: they are written once and never split (STYLE.md §9).
MIGRATIONS = ROOT / "fieldapi" / "migrations" / "versions"


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, include_external_packages=True, cache_dir=None)


def import_cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """A shortest cycle through every import that closes one, each cycle listed once and
    written from its first module in sort order back to itself."""
    found: dict[tuple[str, ...], tuple[str, ...]] = {}
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is None:
                continue
            ring = (importer, *back[:-1])
            start = ring.index(min(ring))
            ring = ring[start:] + ring[:start]
            found.setdefault(ring, (*ring, ring[0]))
    return sorted(found.values())


def test_no_import_cycles(graph):
    cycles = import_cycles(graph)
    assert not cycles, "Import cycles:\n" + "\n".join("  " + " -> ".join(c) for c in cycles)


def test_cycles_are_found_through_any_number_of_modules():
    """The check above is not vacuous: a cycle of two, one of three, each reported once."""
    graph = grimp.ImportGraph()
    for importer, imported in [
        ("app.a", "app.b"),
        ("app.b", "app.a"),
        ("app.c", "app.d"),
        ("app.d", "app.e"),
        ("app.e", "app.c"),
        ("app.e", "app.f"),  # leads out of the cycle, not back into it
        ("app.g", "app.a"),  # leads into one
    ]:
        graph.add_import(importer=importer, imported=imported)
    assert import_cycles(graph) == [
        ("app.a", "app.b", "app.a"),
        ("app.c", "app.d", "app.e", "app.c"),
    ]
    graph.remove_import(importer="app.b", imported="app.a")
    graph.remove_import(importer="app.e", imported="app.c")
    assert import_cycles(graph) == []


def python_files() -> list[Path]:
    return sorted(
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if not path.is_relative_to(MIGRATIONS)
    )


def test_no_file_is_over_400_lines():
    """Past ~400 lines a file is usually two ideas (STYLE.md §10). Python files only: the
    generated documents (openapi.json, the recorded examples) are as long as the API is."""
    assert len(python_files()) > len(PACKAGES)
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in python_files()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not too_long, f"Files over {MAX_LINES} lines: {too_long}"


def test_storage_imports_neither_flask_nor_fieldapi(graph):
    """storage/ is the blob store alone (STYLE.md §1, §7): no web framework, no app."""
    forbidden = sorted(
        name
        for name in graph.modules
        if name == "fieldapi" or name == "flask" or name.startswith("flask_")
    )
    assert "fieldapi" in forbidden
    assert "flask" in forbidden
    chains = sorted(
        chain
        for name in forbidden
        for chain in graph.find_shortest_chains(importer="storage", imported=name, as_packages=True)
    )
    assert not chains, "storage/ reaches:\n" + "\n".join("  " + " -> ".join(c) for c in chains)
