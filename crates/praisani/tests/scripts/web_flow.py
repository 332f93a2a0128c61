"""Drives the web admin in headless Chromium (selenium + chromedriver) at
a phone's width: a domain administrator logs in and creates a mailbox,
then that mailbox's user logs in and changes the password; the pages are
also shown in Thai and Chinese. Saves a PNG of every page visited.

Arguments: base URL, admin address, admin password, screenshot directory,
new mailbox's local part, its domain, first password, second password.
Prints one JSON line with what was seen."""

import json
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

base, admin, admin_pw, shots, local, domain, pw1, pw2 = sys.argv[1:9]
os.makedirs(shots, exist_ok=True)

opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
          "--disable-gpu", "--window-size=375,812", "--lang=en-US"]:
    opts.add_argument(a)
opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
driver.set_page_load_timeout(30)
wait = WebDriverWait(driver, 20)
seen = {"shots": [], "too_wide": [], "csp_violations": []}
n = [0]


def shot(name):
    n[0] += 1
    path = os.path.join(shots, "%02d-%s.png" % (n[0], name))
    # The whole page, not just the first screenful.
    h = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(375, max(812, min(h + 120, 4000)))
    driver.save_screenshot(path)
    driver.set_window_size(375, 812)
    seen["shots"].append(path)
    # Usable on a phone: nothing wider than the screen.
    w = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]")
    if w[0] > w[1] + 1:
        seen["too_wide"].append([name, w])
    for entry in driver.get_log("browser"):
        if "Content Security Policy" in entry.get("message", ""):
            seen["csp_violations"].append(entry["message"])


def login(address, password):
    driver.get(base + "/login")
    wait.until(EC.presence_of_element_located((By.ID, "login")))
    driver.find_element(By.ID, "address").send_keys(address)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "#login button").click()


try:
    driver.get(base + "/login")
    shot("login")
    login(admin, admin_pw)
    wait.until(EC.presence_of_element_located((By.ID, "mailboxes")))
    seen["admin_url"] = driver.current_url
    shot("domain")
    driver.find_element(By.ID, "new-local").send_keys(local)
    driver.find_element(By.ID, "new-password").send_keys(pw1)
    driver.find_element(By.ID, "new-quota").send_keys("10M")
    driver.find_element(By.CSS_SELECTOR, "#add-mailbox button").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".notice")))
    seen["after_add"] = driver.find_element(By.CSS_SELECTOR, ".notice").text
    seen["mailboxes"] = [e.get_attribute("data-address") for e in
                         driver.find_elements(By.CSS_SELECTOR, "#mailboxes > li")]
    seen["meters"] = len(driver.find_elements(By.CSS_SELECTOR, "#mailboxes meter"))
    shot("mailbox-added")
    driver.find_element(By.ID, "logout").click()
    wait.until(EC.presence_of_element_located((By.ID, "login")))
    shot("logged-out")

    login("%s@%s" % (local, domain), pw1)
    wait.until(EC.presence_of_element_located((By.ID, "change-password")))
    seen["user_url"] = driver.current_url
    seen["usage"] = driver.find_element(By.ID, "usage").text
    seen["retention"] = driver.find_element(By.ID, "retention").text
    shot("me")
    driver.find_element(By.ID, "current").send_keys(pw1)
    driver.find_element(By.ID, "new").send_keys(pw2)
    driver.find_element(By.ID, "repeat").send_keys(pw2)
    driver.find_element(By.CSS_SELECTOR, "#change-password button").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".notice")))
    seen["after_password"] = driver.find_element(By.CSS_SELECTOR, ".notice").text
    shot("password-changed")

    for tag in ["th", "zh"]:
        driver.get(base + "/lang/" + tag)
        wait.until(EC.presence_of_element_located((By.ID, "change-password")))
        seen["lang_" + tag] = driver.find_element(By.ID, "logout").text
        seen["html_lang_" + tag] = driver.find_element(
            By.TAG_NAME, "html").get_attribute("lang")
        shot("me-" + tag)
        if tag == "th":
            # A refused form in Thai: forwarding the mailbox to itself.
            form = 'form[action="/me/forward"]'
            driver.find_element(By.CSS_SELECTOR, form + ' input[name="targets"]').send_keys(
                "%s@%s" % (local, domain))
            driver.find_element(By.CSS_SELECTOR, form + " button:not([name])").click()
            wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".notice.err")))
            seen["error_th"] = driver.find_element(By.CSS_SELECTOR, ".notice.err").text
            shot("error-th")
    driver.find_element(By.ID, "logout").click()
    wait.until(EC.presence_of_element_located((By.ID, "login")))
    seen["login_zh"] = driver.find_element(By.CSS_SELECTOR, "#login button").text
    shot("login-zh")
    # The old password no longer logs in here either.
    login("%s@%s" % (local, domain), pw1)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".notice.err")))
    seen["old_password_web"] = driver.find_element(By.CSS_SELECTOR, ".notice").text
    shot("old-password-refused")
    seen["ok"] = True
except Exception as e:  # the Rust test prints what was seen
    seen["ok"] = False
    seen["error"] = "%s: %s" % (type(e).__name__, e)
    seen["url"] = driver.current_url
    seen["page"] = driver.page_source[:3000]
    try:
        shot("failure")
    except Exception:
        pass
finally:
    driver.quit()
print(json.dumps(seen, ensure_ascii=False))
