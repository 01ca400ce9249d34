"""The core runs with no web framework and no queue: `lector ocr` depends on it."""

import ast
import subprocess
import sys

from tests.helpers import ROOT


def test_the_core_imports_no_web_framework_and_no_redis():
    probe = (
        "import sys, service.extract, service.cli, service.engines.tesseract, service.models,"
        " service.startup, service.options, service.speech;"
        "print(sorted(m for m in ('litestar', 'redis', 'rq', 'uvicorn') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_tenant_layer_imports_no_web_framework_and_no_queue():
    probe = (
        "import sys, service.tenants.store, service.tenants.billing, service.tenants.usage;"
        "print(sorted(m for m in ('litestar', 'rq', 'uvicorn', 'service.api', 'service.jobs')"
        " if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def _imports(path):
    """The service modules ``path`` imports (absolute imports only: the code uses no others)."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("service.")}


#: Lector's own controllers: what a dialect may not borrow from.
_LECTOR_CONTROLLERS = {
    f"service.api.{name}"
    for name in (
        "account",
        "admin",
        "app",
        "batches",
        "console",
        "files",
        "health",
        "jobs",
        "monitoring",
        "status",
        "webhooks",
    )
}


def test_a_dialect_imports_no_other_dialect_and_no_lector_controller():
    dialects = ROOT / "service" / "api" / "dialects"
    names = sorted(path.name for path in dialects.iterdir() if (path / "__init__.py").exists())
    assert {"docutray", "convertorio", "converter_app", "convertr", "image_to_text"} <= set(names)
    problems = []
    for name in names:
        others = {f"service.api.dialects.{other}" for other in names if other != name}
        for path in (dialects / name).rglob("*.py"):
            for module in _imports(path):
                if any(module == other or module.startswith(other + ".") for other in others):
                    problems.append(f"{path.relative_to(ROOT)} imports another dialect: {module}")
                if module in _LECTOR_CONTROLLERS or any(
                    module.startswith(c + ".") for c in _LECTOR_CONTROLLERS
                ):
                    problems.append(f"{path.relative_to(ROOT)} imports a Lector controller: {module}")
    assert problems == []


def test_dependencies_point_one_way():
    """api -> lifecycle -> jobs, tenants -> core: nothing imports a layer above its own."""
    service = ROOT / "service"
    above = {
        "lifecycle": ("service.api",),
        "jobs": ("service.api", "service.lifecycle"),
        "tenants": ("service.api", "service.lifecycle", "service.jobs"),
    }
    core = ("service.api", "service.lifecycle", "service.jobs", "service.tenants")
    problems = []
    for path in service.rglob("*.py"):
        layer = path.relative_to(service).parts[0]
        if layer in ("api", "cli", "cli.py") or layer.startswith(("worker", "resident", "launcher")):
            continue
        forbidden = above.get(layer, core if layer.removesuffix(".py") in _CORE else ())
        problems += [
            f"{path.relative_to(ROOT)} imports {module}"
            for module in _imports(path)
            if module.startswith(forbidden)
        ]
    assert problems == []


#: The core's modules and packages: pages, engines, fields, conversions and what they share.
_CORE = (
    "convert",
    "doctypes",
    "engines",
    "errors",
    "extract",
    "fields",
    "identify",
    "models",
    "office",
    "options",
    "pages",
    "perform",
    "typeinfo",
    "vector",
    "work",
)
