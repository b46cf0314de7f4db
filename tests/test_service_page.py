"""The 政策计算器 page in a real browser: headless Chromium (the distribution's package) driven by
Playwright against the running service. Screenshots go to tests/artifacts/.

Under CI (`CI` set) a missing browser or Playwright is a failure, not a skip.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from incentives.engine import PolicySet, Report, load_profile
from incentives.engine.model.units import format_money

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = os.environ.get("INCENTIVES_CHROMIUM", "/usr/bin/chromium")
# What works on a closed network: no background fetches, no first-run or component updates.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
AS_OF = date(2026, 11, 24)
STATUS = {
    "zh": {"eligible": "符合", "ineligible": "不符合", "undetermined": "信息不足", "needs_review": "需专家评审"},
    "en": {"eligible": "eligible", "ineligible": "ineligible", "undetermined": "undetermined", "needs_review": "needs review"},
}  # fmt: skip
TOTAL = {"zh": "合计（现金+税收减免）", "en": "Total (cash + tax savings)"}


def _unavailable(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the browser test cannot run under CI: {why}")
    pytest.skip(why)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (the dev extra has it)")
    if not Path(CHROMIUM).exists():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, service: Any) -> Iterator[Any]:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    # (a refused request is logged by the browser as "Failed to load resource": that is expected)
    tab.on("console", lambda message: errors.append(message.text)
           if message.type == "error" and not message.text.startswith("Failed to load resource") else None)  # fmt: skip
    elsewhere: list[str] = []  # the page must work without any other host
    tab.on(
        "request",
        lambda r: None if r.url.startswith((service.url, "data:")) else elsewhere.append(r.url),
    )
    tab.goto(service.url + "/")
    expect(tab.locator("body")).to_have_attribute("data-ready", "true")
    yield tab
    context.close()
    assert not errors, errors
    assert not elsewhere, elsewhere


def shot(tab: Any, name: str, full: bool = True) -> None:
    tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full)


def evaluate(tab: Any) -> None:
    tab.fill("#f-as_of", AS_OF.isoformat())
    tab.dispatch_event("#f-as_of", "change")


def expect_report(tab: Any, report: Report, lang: str) -> None:
    """The page shows the report's verdict rows (not-in-force ones folded away) and total."""
    from playwright.sync_api import expect

    shown = [r for r in report.results if r.status.value != "not_in_force"]
    rows = tab.locator("#verdicts tbody tr")
    expect(rows).to_have_count(len(shown))
    for result in shown:
        row = tab.locator(f'#verdicts tr[data-policy-id="{result.policy_id}"]')
        expect(row.locator(".status")).to_have_text(STATUS[lang][result.status.value])
        if result.status.value == "eligible" and result.amount is not None:
            expect(row.locator(".amount")).to_contain_text(format_money(result.amount, lang))
        expect(row).to_contain_text(result.title(lang))
    expect(tab.locator("#total-amount")).to_have_text(
        f"{TOTAL[lang]}: {format_money(report.total, lang)}"
    )


def fill_taiyuan(tab: Any) -> None:
    """examples/taiyuan-software-smallfirm.json, typed into the form."""
    evaluate(tab)
    tab.fill("#f-name", "太原示例软件有限公司（虚构）")
    tab.fill("#f-credit_code", "911401001234567887")
    tab.select_option("#f-zone", "taiyuan")
    tab.fill("#f-industry_code", "I6513")
    tab.fill("#f-registration_date", "2020-09-01")
    tab.fill("#f-employees", "45")
    tab.fill("#f-workforce", "48")
    tab.fill("#f-tech_staff", "30")
    tab.select_option("#f-resident_enterprise", "true")
    tab.select_option("#f-restricted_industry", "false")
    tab.fill("#f-financials-0-revenue", "1650万元")
    tab.fill("#f-financials-0-taxable_income", "180万元")
    tab.fill("#f-financials-0-total_assets", "2100万元")
    tab.fill("#f-financials-0-rd_expense", "210万元")
    tab.fill("#f-financials-0-rd_expensed", "210万元")
    tab.fill("#f-financials-0-rd_amortisation", "0")
    tab.check("#f-no-records")
    tab.fill("#f-rest", "synthetic: true\n")


def test_a_typed_profile_gets_its_verdicts_in_both_languages(
    page: Any, policies: PolicySet
) -> None:
    from playwright.sync_api import expect

    fill_taiyuan(page)
    shot(page, "1-form-filled")
    page.click("#submit")
    report = policies.evaluate(
        load_profile(ROOT / "examples" / "taiyuan-software-smallfirm.json"), AS_OF
    )
    expect_report(page, report, "zh")
    shot(page, "2-results-zh")

    page.click("#lang-en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#lang-en")).to_have_attribute("aria-pressed", "true")
    expect_report(page, report, "en")

    # a policy's explanation, clause by clause, with its article
    explained = next(r for r in report.results if r.status.value == "ineligible" and r.gaps)
    details = page.locator(f'details[data-policy-id="{explained.policy_id}"]')
    details.locator("summary").click()
    expect(details).to_have_attribute("open", "")
    full = policies.explain(
        load_profile(ROOT / "examples" / "taiyuan-software-smallfirm.json"),
        explained.policy_id,
        AS_OF,
    )
    assert full.trace is not None
    failing = next(leaf for leaf in _leaves(full.trace) if leaf.outcome == "false")
    item = details.locator("ul.trace li[data-outcome=false]").filter(
        has_text=failing.label("en") if failing.label else failing.fact_label("en")
    )  # type: ignore[union-attr]
    expect(item.first).to_be_visible()
    if failing.article:
        expect(item.first).to_contain_text(failing.article)
    expect(details.locator("ul.gaps li")).to_have_count(len(explained.gaps))
    expect(details).to_contain_text(explained.gaps[0].required("en"))
    details.scroll_into_view_if_needed()
    shot(page, "3-explanation-en", full=False)

    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    expect(page.locator("#verdicts thead")).not_to_be_in_viewport()
    page.locator("#total").scroll_into_view_if_needed()
    shot(page, "4-phone", full=False)


def _leaves(node: Any) -> list[Any]:
    return (
        [node]
        if node.kind == "leaf"
        else [leaf for child in node.children for leaf in _leaves(child)]
    )


def test_an_uploaded_profile_fills_the_form_and_keeps_the_rest(
    page: Any, policies: PolicySet
) -> None:
    from playwright.sync_api import expect

    evaluate(page)
    example = ROOT / "examples" / "jinzhong-hightech.yaml"
    page.set_input_files("#f-upload", str(example))
    expect(page.locator("#f-zone")).to_have_value("jinzhong-dz")
    expect(page.locator("#f-employees")).to_have_value("86")
    expect(page.locator("#f-financials-1-revenue")).to_have_value("36000000")
    expect(page.locator("#f-ip-invention_patent")).to_have_value("2")
    expect(page.locator("#f-rest")).to_have_value(
        re.compile("hnte_key_field")
    )  # kept: no form field
    expect(page.locator("#f-rest")).to_have_value(re.compile("trademark"))
    page.click("#submit")
    expect_report(page, policies.evaluate(load_profile(example), AS_OF), "zh")
    shot(page, "5-uploaded")


def test_bad_values_are_shown_beside_their_fields(page: Any) -> None:
    from playwright.sync_api import expect

    fill_taiyuan(page)
    page.fill("#f-employees", "-3")
    page.fill("#f-financials-0-revenue", "很多")
    page.click("#submit")
    employees = page.locator("#f-employees")
    expect(employees).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-employees-error")).to_contain_text("greater than or equal to 0")
    expect(employees).to_have_attribute("aria-describedby", "f-employees-error")
    expect(page.locator("#f-financials-0-revenue-error")).to_contain_text("很多")
    expect(page.locator("#form-error")).to_contain_text("2")
    expect(page.locator("#f-tech_staff")).not_to_have_attribute("aria-invalid", "true")
    shot(page, "6-field-errors")

    page.fill("#f-employees", "45")
    page.fill("#f-financials-0-revenue", "1650万元")
    page.fill("#f-rest", "facts: [unclosed\n")
    page.click("#submit")
    expect(page.locator("#f-rest-error")).to_contain_text("invalid YAML")
    expect(page.locator("#f-employees")).not_to_have_attribute("aria-invalid", "true")
    shot(page, "7-rest-error")
