"""The four floors: web/ -> actors/ -> prosaas/ -> db/, each importing only the floors below it.

Imports inside functions count like the others. The CLI (prosaas/cli/) is where the floors are wired
into roles, so it may import all of them; Alembic's migrations are scripts, not part of a floor.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOORS = ("db", "prosaas", "actors", "web")  # lowest first
NOT_A_FLOOR = ("prosaas/cli/", "db/migrations/")


def modules():
    """(floor, path, syntax tree) of every module of the floors."""
    for floor in FLOORS:
        for path in sorted((ROOT / floor).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if not relative.startswith(NOT_A_FLOOR):
                yield floor, relative, ast.parse(path.read_text(), relative)


def imports(tree):
    """(line, module imported) for every import statement at any depth; `from a import b` gives a and a.b."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.lineno, node.module
            yield from ((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)


def test_no_floor_imports_a_floor_above_it():
    upward = sorted({f"{path}:{line} imports {name.split('.')[0]}/" for floor, path, tree in modules()
                     for line, name in imports(tree)
                     if name.split(".")[0] in FLOORS and FLOORS.index(name.split(".")[0]) > FLOORS.index(floor)})
    assert upward == []


def test_no_module_imports_the_package_that_imports_it():
    """`actors/__init__` imports `actors.recordings`; `from actors import x` there would be a cycle."""
    trees = {path: tree for _, path, tree in modules()}
    cycles = []
    for init_path, init_tree in trees.items():
        if not init_path.endswith("/__init__.py"):
            continue
        package = init_path[:-len("/__init__.py")].replace("/", ".")
        for _, name in imports(init_tree):
            module_path = name.replace(".", "/") + ".py"
            if name.startswith(package + ".") and module_path in trees:
                cycles += [f"{module_path}:{line} imports {package}" for line, back in imports(trees[module_path])
                           if back == package]
    assert cycles == []
