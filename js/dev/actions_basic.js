// Playwright `page.evaluate` body for dev/lab_shot.py: drive the first viewer on the
// page through its controls and report what happened (tile requests, traits).
(async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const root = document.querySelector(".tmw-root");
  const tiles = () => performance.getEntriesByType("resource").filter((e) => e.name.includes("tile.f16")).length;
  const kernelPrint = async (expr) => {
    const panel = window.jupyterapp.shell.currentWidget;
    const kernel = panel.sessionContext.session.kernel;
    const fut = kernel.requestExecute({ code: `print(${expr})` });
    let out = "";
    fut.onIOPub = (msg) => {
      if (msg.header.msg_type === "stream") out += msg.content.text;
      if (msg.header.msg_type === "error") out += msg.content.ename + ": " + msg.content.evalue;
    };
    await fut.done;
    return out.trim();
  };
  const report = {};
  report.start = await kernelPrint("v._transport, repr(v._error), v._render_count, v.center, v.zoom, v.cmap, v.vmin, v.vmax");
  const t0 = tiles();
  const set = (sel, value) => {
    const el = root.querySelector(sel);
    el.value = value;
    el.dispatchEvent(new Event("change", { bubbles: true }));
  };
  set(".tmw-cmap", "viridis");
  await sleep(800);
  set(".tmw-stretch", "asinh");
  await sleep(300);
  const vmin = root.querySelector(".tmw-num");
  vmin.value = "-200";
  vmin.dispatchEvent(new Event("change"));
  await sleep(800);
  report.tilesBefore = t0;
  report.tilesAfterRecolour = tiles();
  report.afterRecolour = await kernelPrint("v._render_count, v.cmap, v.vmin, v.vmax, v.stretch");
  // hover for the pixel value
  const map = root.querySelector(".tmw-map");
  const r = map.getBoundingClientRect();
  map.dispatchEvent(new MouseEvent("mousemove", { clientX: r.left + r.width / 2, clientY: r.top + r.height / 2, bubbles: true }));
  await sleep(1200);
  report.status = root.querySelector(".tmw-status").textContent;
  // open the range panel
  root.querySelector(".tmw-range-toggle").click();
  await sleep(300);
  // python → JS
  await kernelPrint("(setattr(v, 'center', [30.0, -5.0]), setattr(v, 'zoom', 3.0))");
  await sleep(2500);
  report.afterPython = await kernelPrint("v.center, v.zoom, v._render_count");
  report.tilesEnd = tiles();
  return report;
})()
