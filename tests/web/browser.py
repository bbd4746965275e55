#!/usr/bin/python3
"""Drives the web console in headless Chromium (Debian's chromium and
chromium-driver, through python3-selenium) against a real web server.

usage: browser.py URL PASSWORD SCREENSHOT

Joins as "alice": first with a wrong password (the page must say so), then
with PASSWORD; types `break main`, `run`, `bt` and checks the backtrace in
the terminal; `continue`s the spinning target and presses Break; saves a
screenshot. Prints one line per step; exits 1 naming the step that failed.
The browser's console must stay free of errors (a Content Security Policy
violation would show there).
"""

import os
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

URL, PASSWORD, SCREENSHOT = sys.argv[1:4]


def fail(step, detail=""):
    print(f"FAILED: {step}" + (f": {detail}" if detail else ""), flush=True)
    sys.exit(1)


def step(text):
    print(f"ok: {text}", flush=True)


def wait_for(what, predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as e:  # the page may be between states
            last = e
        time.sleep(0.1)
    fail(what, f"timed out after {timeout}s (last: {last!r})")


profile = tempfile.mkdtemp(prefix="chromium-", dir=os.environ.get("TEST_TMPDIR"))
options = Options()
options.binary_location = "/usr/bin/chromium"
for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--window-size=1400,860", "--no-first-run", "--disable-extensions",
            "--disable-background-networking", "--disable-sync", "--user-data-dir=" + profile]:
    options.add_argument(arg)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.set_page_load_timeout(30)


def terminal_text():
    return driver.execute_script("""
        const buffer = window.dbgdTerminal.buffer.active;
        const lines = [];
        for (let i = 0; i < buffer.length; i++) {
          lines.push(buffer.getLine(i).translateToString(true));
        }
        return lines.join("\\n");
    """)


def command(line):
    box = driver.find_element(By.ID, "command")
    wait_for(f"the command line takes input for {line!r}", lambda: box.is_enabled())
    box.send_keys(line + Keys.ENTER)


try:
    driver.get(URL)
    wait_for("the page loads", lambda: driver.find_element(By.ID, "join-form").is_displayed())
    step("page loaded, join form shown")

    # A wrong password: refused in the page with a clear message.
    driver.find_element(By.ID, "name").send_keys("alice")
    driver.find_element(By.ID, "join-button").click()
    wait_for("a password is asked for",
             lambda: "requires a password" in driver.find_element(By.ID, "join-error").text)
    step("the page says the server requires a password")
    driver.find_element(By.ID, "password").send_keys("Wrong1")
    driver.find_element(By.ID, "join-button").click()
    wait_for("a wrong password is refused",
             lambda: driver.find_element(By.ID, "join-error").text == "Wrong password.")
    step("wrong password refused: " + driver.find_element(By.ID, "join-error").text)

    password = driver.find_element(By.ID, "password")
    password.clear()
    password.send_keys(PASSWORD)
    driver.find_element(By.ID, "join-button").click()
    wait_for("the right password lets alice in",
             lambda: not driver.find_element(By.ID, "join").is_displayed())
    wait_for("the status says connected",
             lambda: driver.find_element(By.ID, "status").text.startswith("connected"))
    wait_for("the history replay shows gdb's prompt", lambda: "(gdb)" in terminal_text())
    wait_for("alice is listed as connected",
             lambda: "alice@web" in driver.find_element(By.ID, "clients").text)
    step("joined; the panel lists: " +
         driver.find_element(By.ID, "clients").text.replace("\n", ", "))

    command("break main")
    wait_for("the breakpoint is set", lambda: "Breakpoint 1 at" in terminal_text())
    command("run")
    wait_for("the target stops at main", lambda: "Breakpoint 1, main" in terminal_text())
    command("bt")
    wait_for("the backtrace shows main", lambda: "#0  main" in terminal_text())
    step("break main, run, bt: the backtrace is in the terminal")

    command("continue")
    wait_for("the target runs", lambda: "Continuing." in terminal_text())
    time.sleep(0.5)
    driver.find_element(By.ID, "break").click()
    wait_for("Break stops the spinning target",
             lambda: "received signal SIGINT" in terminal_text())
    step("Break interrupted the spinning target")

    # The test's dbgremote client (bob) now sends a command: the browser
    # shows it attributed, in the terminal and in the panel.
    print("ready for bob", flush=True)
    wait_for("bob's command is attributed in the terminal",
             lambda: "*** bob@box: print counter > 0" in terminal_text())
    wait_for("bob's command's output arrives", lambda: "$1 = 1" in terminal_text())
    wait_for("the panel lists bob", lambda: "bob@box" in driver.find_element(By.ID, "clients").text)
    notices = driver.find_element(By.ID, "notices").text
    for expected in ["bob@box print counter > 0", "alice@web (you) break main", "alice@web (you) <Break>"]:
        if expected not in notices:
            fail("the panel's notices name who sent each command", f"{expected!r} not in {notices!r}")
    step("bob's command is attributed in the terminal and the panel")
    driver.save_screenshot(SCREENSHOT)
    step("screenshot saved to " + SCREENSHOT)

    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    if errors:
        fail("the browser console is free of errors", "; ".join(e["message"] for e in errors))
    step("no errors in the browser console")

    driver.find_element(By.ID, "leave").click()
    wait_for("Leave disconnects", lambda: driver.find_element(By.ID, "join").is_displayed())
    step("left the session")
finally:
    driver.quit()
print("PASSED", flush=True)
