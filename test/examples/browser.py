#!/usr/bin/python3
"""The settings page in headless Chromium (called by test/examples/run.sh).

    browser.py BASE_URL OUT_DIR SUPERUSER_CONNINFO

Prints "ok ..." / "FAIL ..." lines; screenshots go to OUT_DIR, and the
tokens it created to OUT_DIR/browser-tokens (for the run's log check).
"""
import json
import os
import re
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

import psycopg
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

BASE, OUT, SUPERUSER = sys.argv[1:4]
TOKEN_RE = re.compile(r"^vat_[0-9A-Za-z]{49}$")
failures = 0


def ok(label, cond, detail=""):
    global failures
    if cond:
        print("ok   " + label, flush=True)
    else:
        failures += 1
        print("FAIL " + label, flush=True)
        if detail:
            print("     | " + str(detail).replace("\n", "\n     | "), flush=True)
    return cond


def api_status(token):
    req = urllib.request.Request(BASE + "/flights", headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, None


def db_one(sql, *params):
    with psycopg.connect(SUPERUSER, autocommit=True) as conn:
        return conn.execute(sql, params).fetchone()


def row_for(driver, name):
    for tr in driver.find_elements(By.CSS_SELECTOR, "#tokens tbody tr[data-token-id]"):
        if tr.find_element(By.CSS_SELECTOR, "td.name").text.split(" …")[0] == name:
            return tr
    return None


def cell(tr, cls):
    return tr.find_element(By.CSS_SELECTOR, "td." + cls).text


def navigating(driver, action):
    """Run action (a click or a form submission) and wait for the next page."""
    old = driver.find_element(By.TAG_NAME, "html")
    action()
    WebDriverWait(driver, 10).until(EC.staleness_of(old))
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.readyState") == "complete")


def sign_in(driver, user, password):
    driver.get(BASE + "/settings/login")
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    navigating(driver, driver.find_element(By.ID, "sign-in").click)


def sign_out(driver):
    navigating(driver, driver.find_element(By.CSS_SELECTOR, "header form button").click)


def post_from_page(driver, action, fields):
    """Submit a form the page does not offer (as a forged or stale page would)."""
    navigating(driver, lambda: driver.execute_script("""
        const f = document.createElement('form');
        f.method = 'post'; f.action = arguments[0];
        for (const [k, v] of Object.entries(arguments[1])) {
            const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v;
            f.appendChild(i);
        }
        document.body.appendChild(f); f.submit();""", action, fields))


PROFILE = tempfile.TemporaryDirectory(prefix="vatoken-chromium-")


def main():
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,860", "--no-first-run", "--disable-extensions",
                "--user-data-dir=" + PROFILE.name):
        opts.add_argument(arg)
    log = os.path.join(OUT, "chromedriver.log")
    try:
        service = Service("/usr/bin/chromedriver", log_output=log)   # selenium >= 4.11
    except TypeError:
        service = Service("/usr/bin/chromedriver", log_path=log)     # Debian 12's 4.8
    driver = webdriver.Chrome(service=service, options=opts)
    wait = WebDriverWait(driver, 10, ignored_exceptions=(StaleElementReferenceException,))
    created_tokens = []
    try:
        # The clipboard, as a user who allowed the page to use it.
        driver.execute_cdp_cmd("Browser.grantPermissions", {
            "origin": BASE, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})

        # -- alice has the permission
        sign_in(driver, "alice", "alice-example-password")
        ok("alice signs in and sees Settings > API", driver.current_url.endswith("/settings/api")
           and driver.find_element(By.TAG_NAME, "h1").text == "API tokens", driver.current_url)

        driver.find_element(By.ID, "token-name").send_keys("CI bot")
        navigating(driver, driver.find_element(By.ID, "create").click)
        token = wait.until(EC.presence_of_element_located((By.ID, "new-token"))).get_attribute("value")
        created_tokens.append(token)
        ok("creating a token shows it once, well formed", bool(TOKEN_RE.match(token)), token[:4] + "...")
        warning = driver.find_element(By.ID, "warning").text
        ok("... with the warning that it is shown only once", "only time it is shown" in warning, warning)

        driver.find_element(By.ID, "copy").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "copy-status"), "Copied"))
        clip = driver.execute_async_script(
            "const done = arguments[0]; navigator.clipboard.readText().then(done, e => done('ERROR ' + e));")
        ok("the copy button puts the token on the clipboard", clip == token,
           "clipboard: %r" % (clip[:10] + "..." if clip else clip))
        driver.save_screenshot(os.path.join(OUT, "settings-page-created.png"))

        tr = row_for(driver, "CI bot")
        ok("the new token is in the list, active, never used",
           tr is not None and cell(tr, "status") == "active" and cell(tr, "last-used") == "never"
           and cell(tr, "calls-today") == "0")
        ok("... with its hint (last four characters)", tr is not None and tr.text.find("…" + token[-4:]) >= 0)

        # One API call with it, then the list again.
        status, body = api_status(token)
        ok("the new token works on the API (200, owner airline-42)",
           status == 200 and body and body["owner"] == "airline-42", (status, body))
        driver.get(BASE + "/settings/api")
        ok("the token is not shown again on the next visit",
           not driver.find_elements(By.ID, "new-token") and token not in driver.page_source)
        tr = row_for(driver, "CI bot")
        usage = tr and [cell(tr, c) for c in ("calls-today", "calls-week", "calls-month", "calls-last-month")]
        ok("the list shows its usage: 1 today, this week, this month; 0 last month",
           usage == ["1", "1", "1", "0"], usage)
        ok("... and when it was last used", tr is not None and cell(tr, "last-used") != "never")
        chart = tr and tr.find_element(By.CSS_SELECTOR, "td.chart")
        ok("... and a 30-day chart of 30 days holding that call",
           chart is not None and chart.get_attribute("data-calls") == "1"
           and len(chart.find_elements(By.CSS_SELECTOR, "rect")) == 30,
           chart and (chart.get_attribute("data-calls"), len(chart.find_elements(By.CSS_SELECTOR, "rect"))))
        driver.save_screenshot(os.path.join(OUT, "settings-page.png"))

        # A form without the session's CSRF token is refused.
        before = db_one("SELECT count(*) FROM vatoken_list('airline-42')")[0]
        post_from_page(driver, "/settings/api/tokens", {"name": "forged", "csrf": "not-the-token"})
        after = db_one("SELECT count(*) FROM vatoken_list('airline-42')")[0]
        ok("a form with a wrong CSRF token is refused and creates nothing",
           after == before and "Bad Request" in driver.page_source, (before, after))
        # A name with a NUL byte (no browser form sends one unasked).
        driver.get(BASE + "/settings/api")
        csrf = driver.find_element(By.CSS_SELECTOR, "header input[name=csrf]").get_attribute("value")
        post_from_page(driver, "/settings/api/tokens", {"name": "nul\u0000name", "csrf": csrf})
        msg = driver.find_elements(By.ID, "message")
        ok("a name with a NUL byte is refused with a message",
           bool(msg) and "control characters" in msg[0].text
           and db_one("SELECT count(*) FROM vatoken_list('airline-42')")[0] == before)
        driver.get(BASE + "/settings/api")

        # Delete: cancel first, then confirm.
        tr = row_for(driver, "CI bot")
        tr.find_element(By.CSS_SELECTOR, "form.delete button").click()
        try:
            alert = WebDriverWait(driver, 3).until(EC.alert_is_present())
        except TimeoutException:
            ok("delete asks for confirmation", False, "no confirmation dialog")
            raise
        ok("delete asks for confirmation", "Delete the token “CI bot”?" in alert.text, alert.text)
        alert.dismiss()
        time.sleep(0.3)
        ok("... cancelling keeps the token", row_for(driver, "CI bot") is not None and api_status(token)[0] == 200)
        row_for(driver, "CI bot").find_element(By.CSS_SELECTOR, "form.delete button").click()
        wait.until(EC.alert_is_present()).accept()
        wait.until(lambda d: row_for(d, "CI bot") is None)
        ok("... confirming deletes it: gone from the list", row_for(driver, "CI bot") is None)
        ok("... and the API refuses it (401)", api_status(token)[0] == 401)
        sign_out(driver)

        # -- bob lacks the permission
        sign_in(driver, "bob", "bob-example-password")
        refused = driver.find_elements(By.ID, "refused")
        ok("bob (without the permission) gets a clear refusal",
           bool(refused) and "Can Manage API Settings" in refused[0].text
           and not driver.find_elements(By.ID, "tokens"))
        csrf = driver.find_element(By.CSS_SELECTOR, "header input[name=csrf]").get_attribute("value")
        post_from_page(driver, "/settings/api/tokens", {"name": "bob's token", "csrf": csrf})
        n = db_one("SELECT count(*) FROM vatoken_list('airline-42') WHERE name = %s", "bob's token")[0]
        ok("bob's create (a form the page never showed him) is refused, nothing created",
           n == 0 and bool(driver.find_elements(By.ID, "refused")) and not driver.find_elements(By.ID, "new-token"), n)
        victim = db_one("SELECT token_id FROM vatoken_list('airline-42') WHERE name = 'reader'")[0]
        post_from_page(driver, "/settings/api/tokens/%d/delete" % victim, {"csrf": csrf})
        n = db_one("SELECT count(*) FROM vatoken_list('airline-42') WHERE token_id = %s", victim)[0]
        ok("bob's delete is refused, the token stays", n == 1 and bool(driver.find_elements(By.ID, "refused")), n)
        driver.save_screenshot(os.path.join(OUT, "settings-page-refused.png"))
    except Exception:
        ok("browser session", False, traceback.format_exc())
        try:
            driver.save_screenshot(os.path.join(OUT, "failure.png"))
        except Exception:
            pass
    finally:
        try:
            driver.switch_to.alert.dismiss()
        except (NoAlertPresentException, Exception):
            pass
        driver.quit()
        with open(os.path.join(OUT, "browser-tokens"), "w") as f:
            f.write("".join(t + "\n" for t in created_tokens))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
