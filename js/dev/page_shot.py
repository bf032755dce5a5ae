"""Screenshot the full-page viewer. Usage: python page_shot.py URL OUT.png [--actions file.js]"""

import json
import sys
import time

from playwright.sync_api import sync_playwright

url, out = sys.argv[1:3]
actions = sys.argv[sys.argv.index("--actions") + 1] if "--actions" in sys.argv else None
with sync_playwright() as p:
    browser = p.chromium.launch(
        executable_path="/usr/bin/chromium",
        args=["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
    )
    page = browser.new_page(viewport={"width": 1200, "height": 760})
    logs = []
    page.on("console", lambda m: logs.append(f"console.{m.type}: {m.text}"))
    page.on("pageerror", lambda e: logs.append(f"pageerror: {e} {e.stack[:1500] if e.stack else ''}"))
    page.goto(url)
    page.wait_for_selector(".tmw-root", timeout=30000)
    time.sleep(4)
    if actions:
        print("actions:", json.dumps(page.evaluate(open(actions).read())))
        time.sleep(1)
    page.screenshot(path=out)
    print("\n".join(logs[-30:]))
    browser.close()
