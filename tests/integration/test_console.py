"""The web console in a real headless Chromium (Debian's, driven by playwright): sign in, read
a generated receipt, see its fields and its word boxes, download the text; a wrong key; jobs,
usage and pairs; a narrow screen; and no request leaving the server, the OpenAPI page's
included."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from fixtures.generate import RECEIPT_FIELDS
from tests.helpers import API_KEY

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Browser:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: `make test` installs it (make browser).")
    with sync_playwright() as playwright:
        # As root in a container, Chromium's sandbox cannot start; the pages are Lector's own.
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, server):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1200, "height": 900})
    opened = context.new_page()
    opened.outside = []  # requests that did not go to Lector

    def watch(request) -> None:
        if not request.url.startswith((server.url, "blob:", "data:")):
            opened.outside.append(request.url)

    opened.on("request", watch)
    yield opened
    context.close()


def sign_in(page: Page, server, key: str = API_KEY) -> None:
    page.goto(f"{server.url}/console")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def test_a_wrong_key_is_told_clearly(page, server):
    sign_in(page, server, "not-a-key-at-all")
    expect(page.get_by_role("alert")).to_contain_text("That key was not accepted")
    assert page.evaluate("sessionStorage.getItem('lector-api-key')") is None


def test_read_a_receipt_see_fields_and_boxes_and_download_the_text(page, server, workers, docs, tmp_path):
    sign_in(page, server)
    expect(page.locator("#account")).to_contain_text("Signed in as")
    assert page.evaluate("document.cookie") == "" and API_KEY not in page.url
    assert page.evaluate("sessionStorage.getItem('lector-api-key')") == API_KEY

    page.get_by_label("Documents: drop them here, or choose them").set_input_files(str(docs["receipt.png"]))
    page.get_by_label("Document type").select_option("receipt")
    page.get_by_label("Engine").select_option("tesseract")
    page.get_by_role("button", name="Read", exact=True).click()
    total = page.locator("tr[data-field=total]")
    expect(total).to_contain_text(str(RECEIPT_FIELDS["total"]), timeout=60_000)
    expect(page.locator("tr[data-field=date]")).to_contain_text(RECEIPT_FIELDS["date"])
    boxes = page.locator(".page svg rect.box")
    assert boxes.count() > 10
    page.locator("button.word", has_text="TOTAL").first.click()
    assert page.locator(".page svg rect.lit").count() == 1

    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download the text").click()
    saved = tmp_path / "receipt.txt"
    downloading.value.save_as(saved)
    assert "TOTAL" in saved.read_text() and "20.03" in saved.read_text()

    shot = tmp_path / "console-result.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    print(f"console screenshot: {shot}")
    assert page.outside == []


def test_jobs_usage_and_pairs(page, server, workers, docs, client):
    queued = client.post(
        "/api/convert-file-async",
        files={"image": ("page.png", docs["page.png"].read_bytes())},
        data={"target_format": "jpg"},
    )
    assert queued.status_code == 202
    batch = client.post(
        "/api/batches/",
        files=[("files", ("receipt.png", docs["receipt.png"].read_bytes()))],
        data={"document_type_code": "receipt", "engine": "tesseract"},
    ).json()
    sign_in(page, server)
    page.get_by_role("tab", name="Jobs and batches").click()
    row = page.locator("tr", has_text="page.png").first
    expect(row).to_contain_text("SUCCESS", timeout=60_000)
    row.get_by_role("button", name="Download").click()
    expect(row.get_by_role("link", name="Save the file")).to_be_visible()
    expect(page.locator("tr", has_text="receipt.png").first).to_contain_text("SUCCESS", timeout=60_000)
    batch_item = page.get_by_role("listitem").filter(has_text=f"Batch {batch['batch_id'][:8]}")
    batch_item.get_by_role("button", name="Results as CSV").click()
    with page.expect_download() as downloading:
        batch_item.get_by_role("link", name="Save the CSV").click()
    csv_path = downloading.value.path()
    assert "20.03" in Path(csv_path).read_text()

    page.get_by_role("tab", name="Usage").click()
    expect(page.locator("#usage-chart svg rect").first).to_be_attached()
    expect(page.locator("#limits")).to_contain_text("Quota left")
    page.get_by_role("tab", name="Pair reliability").click()
    expect(page.locator("#pairs-table")).to_contain_text("PNG -> JPG")
    assert page.outside == []


def test_a_narrow_screen_keeps_everything_in_view(browser, server):
    context = browser.new_context(viewport={"width": 360, "height": 740})
    narrow = context.new_page()
    narrow.goto(f"{server.url}/console")
    narrow.get_by_label("API key").fill(API_KEY)
    narrow.keyboard.press("Enter")  # the form works from the keyboard
    expect(narrow.locator("#account")).to_contain_text("Signed in as")
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 360
    context.close()


def test_the_openapi_page_loads_its_assets_from_lector(page, server):
    page.goto(f"{server.url}/schema")
    expect(page.locator(".swagger-ui .information-container")).to_be_visible(timeout=30_000)
    assert page.outside == []
    assert httpx.get(f"{server.url}/console/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
