#!/usr/bin/env python3
"""The fleet dashboard in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright;
Playwright never downloads a browser here). Run by Tests/SyncTests/DashboardBrowserTests.swift,
which starts the fleet server on a throwaway PostgreSQL, seeds it, and passes what it seeded
as a JSON file (argv[1]):

  {"url", "adminToken", "deviceToken", "counts": {"online", "degraded", "offline", "never_seen"},
   "chart": {"device", "sensor", "range", "buckets", "segments", "threshold"},
   "deadJob": {...} or null, "screenshots": directory or null}

Prints one line per check and, last, "N passed, M failed"; exits 1 if any check failed."""
import json
import os
import sys
import time

from playwright.sync_api import sync_playwright

context_file = sys.argv[1]
seed = json.load(open(context_file, encoding="utf-8"))
base = seed["url"]
shots = seed.get("screenshots")
passed, failed = 0, 0
console_errors = []


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def screenshot(page, name):
    if shots:
        page.screenshot(path=os.path.join(shots, name + ".png"), full_page=True)


def watch(page):
    page.on("console", lambda message: message.type == "error" and console_errors.append(f"{page.url}: {message.text}"))
    page.on("pageerror", lambda error: console_errors.append(f"{page.url}: {error}"))


def sign_in(page, token):
    page.goto(base + "/dashboard/sign-in")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")


with sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1200, "height": 900})
    page = context.new_page()
    watch(page)

    # Every page and fragment without a session ends at the sign-in page.
    chart = seed["chart"]
    protected = ["/dashboard", "/dashboard/fragments/overview", f"/dashboard/devices/{chart['device']}",
                 f"/dashboard/devices/{chart['device']}?range=30d", "/dashboard/notifications", "/dashboard/workers"]
    for path in protected:
        response = page.goto(base + path)
        check(f"without a session {path} redirects to sign-in",
              page.url == base + "/dashboard/sign-in" and response.request.redirected_from is not None, page.url)
    csv = page.request.get(base + f"/dashboard/devices/{chart['device']}/export.csv", max_redirects=0)
    check("without a session the CSV export redirects", csv.status == 303 and csv.headers.get("location") == "/dashboard/sign-in",
          str(csv.status))
    screenshot(page, "sign-in")

    # A device token is not an operator's.
    sign_in(page, seed["deviceToken"])
    check("a device token cannot sign in", page.url == base + "/dashboard/sign-in?failed=token"
          and "does not open the dashboard" in page.inner_text(".problem"), page.url)

    # The sign-in form without its CSRF token is refused.
    refused = page.request.post(base + "/dashboard/sign-in", form={"token": seed["adminToken"]}, max_redirects=0)
    check("sign-in without the form's CSRF token is refused", refused.status == 403, str(refused.status))

    # Sign in: the session cookie's flags, then the overview's counts against the database's.
    sign_in(page, seed["adminToken"])
    check("the admin token signs in", page.url == base + "/dashboard", page.url)
    cookie = next((c for c in context.cookies() if c["name"] == "reef_session"), None)
    check("the session cookie is HttpOnly, Secure, SameSite=Strict",
          cookie is not None and cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict", str(cookie))
    for state, expected in seed["counts"].items():
        shown = page.inner_text(f"[data-count={state}]")
        check(f"overview {state} count is the database's ({expected})", shown == str(expected), shown)
    rows = page.locator("table.devices tbody tr[data-name]").count()
    check("the table has a row per device", rows == sum(seed["counts"].values()), str(rows))
    screenshot(page, "overview")

    # Filter and sort run in the page.
    page.select_option("#state-filter", "offline")
    visible = page.locator("table.devices tbody tr[data-name]:visible").count()
    check("filtering by state shows only those devices", visible == seed["counts"]["offline"], str(visible))
    page.select_option("#state-filter", "")
    page.click("th[data-key=name]")
    page.click("th[data-key=name]")
    names = page.eval_on_selector_all("table.devices tbody tr[data-name]", "rows => rows.map(r => r.dataset.name)")
    check("sorting by name twice sorts descending", names == sorted(names, reverse=True), str(names))

    # The device chart: the seeded buckets, the gap, the threshold line.
    page.goto(base + f"/dashboard/devices/{chart['device']}?range={chart['range']}")
    svg = page.locator(f"svg.chart[data-sensor='{chart['sensor']}']")
    check("the chart has the seeded buckets", svg.get_attribute("data-buckets") == str(chart["buckets"]),
          str(svg.get_attribute("data-buckets")))
    check("the gap splits the line", svg.get_attribute("data-segments") == str(chart["segments"]),
          str(svg.get_attribute("data-segments")))
    points = sum(int(p.get_attribute("data-points")) for p in svg.locator(".mean").all())
    check("the mean line has a point per bucket", points == chart["buckets"], str(points))
    threshold = svg.locator("line.threshold")
    check("the rule's threshold line is drawn", threshold.count() == 1 and float(threshold.get_attribute("data-value")) == chart["threshold"],
          str(threshold.count()))
    check("the event timeline lists the seeded event", page.locator("table.events tbody tr.fired").count() == 1)
    check("the health history lists the reports in range", page.locator("table.health tbody tr .badge").count() == 3,
          str(page.locator("table.health tbody tr .badge").count()))
    screenshot(page, "device")
    export = page.request.get(base + f"/dashboard/devices/{chart['device']}/export.csv?range={chart['range']}")
    lines = [line for line in export.text().splitlines()[1:] if line.startswith(chart["sensor"] + ",")]
    check("the CSV export has a row per shown bucket", export.status == 200 and len(lines) == chart["buckets"], str(len(lines)))

    # A dead notification retried from the page becomes pending, then sent.
    dead = seed.get("deadJob")
    if dead is not None:
        page.goto(base + "/dashboard/notifications")
        row = page.locator(f"tr[data-job='{dead['id']}']")
        check("the dead job is listed with its error", row.count() == 1 and dead["error"] in row.inner_text(), str(row.count()))
        row.locator("button", has_text="Retry").click()
        page.wait_for_load_state("load")
        state = page.locator(f"tr[data-job='{dead['id']}']").get_attribute("data-state")
        check("the retried job is pending", state in ("available", "pending", "running", "sent", "completed"), str(state))
        deadline = time.time() + 30
        while time.time() < deadline:
            page.goto(base + "/dashboard/notifications?state=all")
            state = page.locator(f"tr[data-job='{dead['id']}']").get_attribute("data-state")
            if state in ("completed", "sent"):
                break
            time.sleep(0.5)
        check("the retried job is then sent", state in ("completed", "sent"), str(state))
        receiver = page.locator(f"tr[data-receiver='{seed['receiver']}']")
        check("the configured receiver is listed", receiver.count() == 1, str(receiver.count()))
        check("the configured route is listed", page.locator(f"tr[data-route='{seed['route']}']").count() == 1)
        receiver.locator("button", has_text="Test").click()
        page.wait_for_load_state("load")
        check("Test queues a message to the receiver", f"A test message to {seed['receiver']} is queued" in page.inner_text(".notice")
              and page.locator("tr[data-job]", has_text=seed["receiver"]).count() == 1,
              str(page.locator("tr[data-job]", has_text=seed["receiver"]).count()))
        screenshot(page, "notifications")
    page.goto(base + "/dashboard/workers")
    check("the workers tab answers", page.locator("h1").inner_text() == "Workers")
    screenshot(page, "workers")
    if dead is None:
        page.goto(base + "/dashboard/notifications")
        screenshot(page, "notifications")

    # A signed-in POST without the session's CSRF token is refused.
    for form in ({}, {"csrf": "not-the-token"}):
        refused = page.request.post(base + "/dashboard/sign-out", form=form, max_redirects=0)
        check(f"sign-out with csrf={form.get('csrf')} is refused", refused.status == 403, str(refused.status))
    page.goto(base + "/dashboard")
    check("the session survives refused forms", page.url == base + "/dashboard", page.url)

    # Phone width: nothing wider than the screen but the tables' own scroll boxes.
    phone = browser.new_context(ignore_https_errors=True, viewport={"width": 390, "height": 844}, storage_state=context.storage_state())
    small = phone.new_page()
    watch(small)
    for path, name in (("/dashboard", "overview-phone"), (f"/dashboard/devices/{chart['device']}?range={chart['range']}", "device-phone")):
        small.goto(base + path)
        width = small.evaluate("document.documentElement.scrollWidth")
        check(f"{path} fits a 390 px screen", width <= 390, str(width))
        screenshot(small, name)
    phone.close()

    # Sign out: back to sign-in, and the pages redirect again.
    page.goto(base + "/dashboard")
    page.click(".sign-out button")
    page.wait_for_load_state("load")
    check("sign-out lands on sign-in", page.url == base + "/dashboard/sign-in", page.url)
    page.goto(base + "/dashboard")
    check("after sign-out the overview redirects", page.url == base + "/dashboard/sign-in", page.url)

    check("no console errors", not console_errors, "; ".join(console_errors))
    browser.close()

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
