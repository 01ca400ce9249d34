"""The core runs with no web framework and no queue: `lector ocr` depends on it."""

import subprocess
import sys

from tests.helpers import ROOT


def test_the_core_imports_no_web_framework_and_no_redis():
    probe = (
        "import sys, service.extract, service.cli, service.engines.tesseract, service.models,"
        " service.startup, service.options;"
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
