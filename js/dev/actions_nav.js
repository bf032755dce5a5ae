// Navigation checks for dev/lab_shot.py: go-to box, RA direction, layer paging.
(async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const root = document.querySelector(".tmw-root");
  const kernelPrint = async (expr) => {
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    const fut = kernel.requestExecute({ code: `print(${expr})` });
    let out = "";
    fut.onIOPub = (msg) => { if (msg.header.msg_type === "stream") out += msg.content.text; if (msg.header.msg_type === "error") out += msg.content.evalue; };
    await fut.done;
    return out.trim();
  };
  const flips = () => performance.getEntriesByType("resource").filter((e) => e.name.includes("tile.f16")).map((e) => e.name.split("?")[1]);
  const report = {};
  const go = root.querySelector(".tmw-goto");
  go.value = "21h00m00s -20d30m";
  go.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
  await sleep(1500);
  report.afterGoto = await kernelPrint("v.center, v.zoom");
  go.value = "nonsense";
  go.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
  report.gotoInvalid = go.classList.contains("tmw-invalid") + " " + go.title;
  root.querySelector(".tmw-radir").click();
  await sleep(2000);
  report.afterRa = await kernelPrint("v.ra_left, v.center");
  report.flipQueries = [...new Set(flips())];
  const map = root.querySelector(".tmw-map");
  map.focus();
  map.dispatchEvent(new KeyboardEvent("keydown", { key: "PageDown", bubbles: true }));
  await sleep(2500);
  report.afterPage = await kernelPrint("v.layer == v.layers[1]['id'], v.vmin, v.vmax, v.cmap, repr(v._error), v._render_count");
  report.select = root.querySelector(".tmw-layer-select").value;
  return report;
})()
