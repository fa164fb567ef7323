"""The console in real headless Chromium (Debian's /usr/bin/chromium, nothing downloaded):
log in, see an alert raised through Kafka and the real worker appear live, acknowledge it, and
see the change in a second browser session."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, WorkerProcess
from tests.console.conftest import ConsoleServer, make_alert, make_candidate, publish_alert, publish_candidate

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not path:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing: CI must install it (make browser)")
        pytest.skip("needs Debian chromium (`make browser` or apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def log_in(browser: Any, console: ConsoleServer, user: str) -> Any:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(console.url + "/")  # not logged in: the console sends us to the login page
    page.wait_for_url("**/login**")
    page.fill("#username", user)
    page.fill("#password", user)
    page.click("#login-button")
    page.wait_for_url(console.url + "/")
    page.wait_for_selector("#feed-state.live")
    return page


def test_alert_appears_live_and_acknowledgement_reaches_another_session(
        browser: Any, console: ConsoleServer, worker: WorkerProcess) -> None:
    errors: list[str] = []
    operator = log_in(browser, console, "operator")
    supervisor = log_in(browser, console, "supervisor")
    for page in (operator, supervisor):
        page.on("pageerror", lambda error: errors.append(str(error)))
    operator.click("#sound")  # the optional sound cue: WebAudio, created on this gesture

    candidate = make_candidate(severity="critical", title="Console browser test")
    # Playwright's sync API owns this thread's event loop: produce from another thread.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, publish_candidate(console.config, candidate)).result(30)

    # It arrives through Kafka and the worker without a reload; critical: banner and flashing row.
    row = f'tr[data-alert-id="{candidate.alert_id}"]'
    operator.wait_for_selector(row, timeout=30_000)
    assert operator.is_visible("#critical-banner")
    assert "flash" in (operator.get_attribute(row, "class") or "")
    supervisor.wait_for_selector(row, timeout=30_000)

    operator.click(row)
    operator.wait_for_selector(f'#detail[data-alert-id="{candidate.alert_id}"]')
    assert operator.text_content("#d-status") == "new"
    operator.click("#act-acknowledge")
    # The operator is told once the worker applied it (the alert came back with the action).
    operator.wait_for_selector("#action-msg:has-text('acknowledge: applied')", timeout=30_000)

    # The worker applies the action and republishes; the other session sees it on its own feed.
    supervisor.wait_for_selector(f'{row} td.status:has-text("acknowledged")', timeout=30_000)
    supervisor.click(row)
    supervisor.wait_for_selector("#d-history li:has-text('operator: acknowledge')")
    operator.wait_for_selector(f'{row} td.status:has-text("acknowledged")')

    ARTIFACTS.mkdir(exist_ok=True)
    supervisor.screenshot(path=str(ARTIFACTS / "console-acknowledged.png"), full_page=True)
    operator.screenshot(path=str(ARTIFACTS / "console-operator.png"), full_page=True)
    assert not errors, errors
    for page in (operator, supervisor):
        page.context.close()


def test_an_action_the_worker_refuses_is_shown_to_the_operator(
        browser: Any, console: ConsoleServer, worker: WorkerProcess) -> None:
    # Published straight to `alerts`, as if its state were lost: the alerting agent refuses actions on it.
    alert = make_alert(severity="medium", title="Refused action test")
    operator = log_in(browser, console, "operator")
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, publish_alert(console.config, alert)).result(30)
    row = f'tr[data-alert-id="{alert.alert_id}"]'
    operator.wait_for_selector(row, timeout=30_000)
    operator.click(row)
    operator.click("#act-acknowledge")
    refusal = operator.wait_for_selector("#action-msg.error:has-text('acknowledge not applied')", timeout=30_000)
    assert f"no alert {alert.alert_id}" in (refusal.text_content() or "")
    assert operator.text_content(f"{row} td.status") == "new"
    operator.context.close()
