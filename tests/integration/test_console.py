"""The web console in a real headless Chromium (Debian's, driven by playwright): sign in, read
a generated receipt, see its fields (amounts in their currency, confidence coloured by value),
its text with its lines and its word boxes, download the text; a field chosen drawn where its
evidence stands on the picture; a wrong key; a scoped key's
type menu, and a failure never reported as done; jobs, usage (with its axes and values) and
pairs; a narrow screen; and no request leaving the server, the OpenAPI page's included."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from fixtures.generate import RECEIPT_FIELDS, RECEIPT_LINES
from tests.helpers import ADMIN_KEY, API_KEY

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: The console's colours of confidence (console.css), as computed styles say them.
LEVELS = {"good": "rgb(26, 127, 55)", "fair": "rgb(154, 103, 0)", "bad": "rgb(164, 22, 26)"}


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


def assert_confidence_colours(page: Page) -> None:
    """Every field's confidence bar is coloured by its value: red below 0.5, amber below 0.8,
    green from 0.8, and as wide as the value."""
    bars = page.locator("tr[data-field] [role=meter]")
    assert bars.count() >= 5
    levels = set()
    for index in range(bars.count()):
        bar = bars.nth(index)
        value = float(bar.get_attribute("aria-valuenow"))
        level = "good" if value >= 0.8 else "fair" if value >= 0.5 else "bad"
        levels.add(level)
        fill = bar.locator(".fill")
        colour = fill.evaluate("node => getComputedStyle(node).backgroundColor")
        assert colour == LEVELS[level], (index, value)
        width = fill.evaluate("node => node.getBoundingClientRect().width / node.parentNode.clientWidth")
        assert abs(width - value) < 0.02
    print(f"confidence levels seen: {sorted(levels)}")


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
    expect(page.locator("#read-status")).to_have_text("Done: 1 document.")
    # Amounts in their currency's decimals: 18.90, not 18.9.
    expect(page.locator("tr[data-field=subtotal] td").nth(1)).to_have_text(re.compile(r"^MYR\s18\.90$"))
    expect(total.locator("td").nth(1)).to_have_text(re.compile(r"^MYR\s20\.03$"))
    assert_confidence_colours(page)
    # The text pane keeps the receipt's lines.
    text = page.locator(".words p").first
    assert text.evaluate("node => getComputedStyle(node).whiteSpace") == "pre-wrap"
    lines = [" ".join(line.split()) for line in text.inner_text().splitlines() if line.strip()]
    assert len(lines) >= len(RECEIPT_LINES) - 1 and "TOTAL RM 20.03" in lines
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


def test_choosing_a_field_draws_its_evidence_box_over_the_picture(page, server, workers, docs):
    sign_in(page, server)
    page.get_by_label("Documents: drop them here, or choose them").set_input_files(str(docs["receipt.png"]))
    page.get_by_label("Document type").select_option("receipt")
    page.get_by_label("Engine").select_option("tesseract")
    with page.expect_response("**/api/ocr/extract-text-from-file", timeout=60_000) as answered:
        page.get_by_role("button", name="Read", exact=True).click()
    data = answered.value.json()["data"]
    boxes = {name: proof["box"] for name, proof in (data["field_evidence"] or {}).items() if proof.get("box")}
    assert "total" in boxes and len(boxes) >= 2, data["field_evidence"]
    unboxed = [name for name in data["fields"] if name not in boxes]
    assert unboxed
    (width,) = [reading["width"] for reading in data["raw_response"]["pages"]]
    drawn = page.locator(".page svg rect.field")
    expect(page.locator("tr[data-field=total]")).to_be_visible()
    assert drawn.count() == 0

    def assert_drawn_at(box: list[int]) -> None:
        expect(drawn).to_have_count(1)
        left, top, right, bottom = box
        place = [float(drawn.get_attribute(name)) for name in ("x", "y", "width", "height")]
        assert place == [left, top, right - left, bottom - top]
        # On screen the picture is scaled; the box is scaled with it, onto the same pixels (its
        # centre: the on-screen box includes the stroke).
        picture = page.locator(".page img").bounding_box()
        shown = drawn.bounding_box()
        scale = picture["width"] / width
        assert scale < 0.9
        assert abs(shown["x"] + shown["width"] / 2 - (picture["x"] + (left + right) / 2 * scale)) < 1
        assert abs(shown["y"] + shown["height"] / 2 - (picture["y"] + (top + bottom) / 2 * scale)) < 1
        assert abs(shown["width"] - (right - left) * scale) < 4

    # From the keyboard: the field's name is a button.
    page.locator("tr[data-field=total] button").focus()
    page.keyboard.press("Enter")
    assert_drawn_at(boxes["total"])
    expect(page.locator("tr[data-field=total] button")).to_have_attribute("aria-pressed", "true")
    other = next(name for name in boxes if name != "total")
    page.locator(f"tr[data-field={other}]").click()  # a click anywhere on the row; the box moves
    assert_drawn_at(boxes[other])
    expect(page.locator("tr[data-field=total] button")).to_have_attribute("aria-pressed", "false")
    nowhere = page.locator(f"tr[data-field={unboxed[0]}] button")
    expect(nowhere).to_have_attribute("title", re.compile("^No box"))
    nowhere.click()
    expect(drawn).to_have_count(0)
    assert page.outside == []


def test_jobs_usage_and_pairs(page, server, workers, docs, client, tmp_path):
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
    days = client.get("/api/usage").json()["days"]
    chart = page.locator("#usage-chart svg")
    assert chart.locator("line.axis").count() >= 2  # the count axis and the date axis
    ticks = chart.locator("text.tick").all_text_contents()
    assert ticks[0] == "0" and ticks[-1] == str(max(day["documents"] for day in days))
    assert chart.locator("text.value").last.text_content() == str(days[-1]["documents"]) != "0"
    assert chart.locator("text.date").last.text_content() == days[-1]["date"][5:]
    expect(page.locator("#limits")).to_contain_text("Quota left")
    shot = tmp_path / "console-usage.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"console screenshot: {shot}")
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


def test_a_scoped_key_is_offered_only_its_types_and_a_failure_is_not_done(page, server, workers, docs):
    made = httpx.post(
        f"{server.url}/admin/keys",
        headers={"X-API-Key": ADMIN_KEY},
        json={"name": "receipts and invoices", "types": ["receipt", "invoice"]},
    )
    assert made.status_code == 201, made.text
    sign_in(page, server, made.json()["key"])
    menu = page.get_by_label("Document type")
    expect(menu).to_have_value("receipt")
    offered = menu.locator("option").evaluate_all("options => options.map((option) => option.value)")
    assert offered == ["receipt", "invoice"]

    files = page.get_by_label("Documents: drop them here, or choose them")
    files.set_input_files(str(docs["receipt.png"]))
    page.get_by_label("Engine").select_option("tesseract")
    page.get_by_role("button", name="Read", exact=True).click()
    expect(page.locator("#read-status")).to_have_text("Done: 1 document.", timeout=60_000)
    expect(page.locator("tr[data-field=total]")).to_contain_text("20.03")
    expect(page.locator("#results [role=alert]")).to_have_count(0)

    files.set_input_files([str(docs["truncated.png"]), str(docs["receipt.png"])])
    page.get_by_role("button", name="Read", exact=True).click()
    status = page.locator("#read-status")
    expect(status).to_have_text("1 of 2 documents could not be read (see below).", timeout=60_000)
    expect(page.locator("#results [role=alert]")).to_contain_text("truncated.png")
    assert "Done" not in status.inner_text()
