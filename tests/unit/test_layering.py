"""The layers a newcomer relies on: services and the gateway never import the CLI (it imports
them), and no module imports another module's private names."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def modules(*folders):
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path, ast.parse(path.read_text(), str(path))


def imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []


def test_services_and_the_gateway_never_import_the_cli():
    found = [
        (str(path.relative_to(ROOT)), module)
        for path, tree in modules("services", "gateway")
        for module, names in imports(tree)
        if module == "cli" or module.startswith("cli.")
    ]
    assert found == []


def test_no_module_imports_another_ones_private_names():
    found = [
        (str(path.relative_to(ROOT)), module, name)
        for path, tree in modules("services", "gateway", "cli")
        for module, names in imports(tree)
        if module.startswith(("services", "gateway", "cli"))
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert found == []


def test_no_module_reaches_into_another_ones_private_names():
    """``devpki._atomic_write`` as well as ``from devpki import _atomic_write``."""
    found = []
    for path, tree in modules("services", "gateway", "cli"):
        ours = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith(("services", "gateway", "cli"))
            for alias in node.names
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in ours
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                found.append((str(path.relative_to(ROOT)), node.value.id, node.attr))
    assert found == []
