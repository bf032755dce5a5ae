"""Open a notebook in a running JupyterLab, run it, screenshot the widget.

Usage: python lab_shot.py URL_BASE TOKEN NOTEBOOK OUT.png [--actions script.js]
Dev aid for the front end (not a test); needs Playwright for Python and /usr/bin/chromium.
"""

import json
import sys
import time
import uuid

from playwright.sync_api import sync_playwright

base, token, nb, out = sys.argv[1:5]
actions = sys.argv[sys.argv.index("--actions") + 1] if "--actions" in sys.argv else None

with sync_playwright() as p:
    browser = p.chromium.launch(
        executable_path="/usr/bin/chromium",
        args=["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
    )
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    logs = []
    page.on("console", lambda m: logs.append(f"console.{m.type}: {m.text}"))
    page.on("pageerror", lambda e: logs.append(f"pageerror: {e}"))
    reqs = []
    page.on("request", lambda r: reqs.append(r.url) if "/tilemaker/" in r.url else None)
    page.goto(f"{base}lab/workspaces/{uuid.uuid4().hex[:8]}/tree/{nb}?reset&token={token}")
    print("loading lab", flush=True)
    page.wait_for_function("window.jupyterapp && window.jupyterapp.shell", timeout=60000)
    page.wait_for_selector(".jp-Notebook", timeout=60000)
    print("notebook open", flush=True)
    time.sleep(3)
    page.evaluate("void window.jupyterapp.commands.execute('notebook:run-all-cells')")
    try:
        page.wait_for_selector(".tmw-root", timeout=60000)
    except Exception:
        page.screenshot(path=out.replace(".png", "-fail.png"))
        print("\n".join(logs[-40:]))
        raise
    time.sleep(6)
    if actions:
        result = page.evaluate(open(actions).read())
        print("actions:", json.dumps(result))
        time.sleep(3)
    el = page.query_selector(".tmw-root")
    el.screenshot(path=out)
    page.screenshot(path=out.replace(".png", "-page.png"))
    print("\n".join(logs[-40:]))
    print(f"{len(reqs)} tilemaker requests; first: ", *reqs[:12], sep="\n  ")
    browser.close()
