// Several views on one page (dev/lab_shot.py --actions): each must show tiles; dark theme.
(async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  await window.jupyterapp.commands.execute("apputils:change-theme", { theme: "JupyterLab Dark" });
  await sleep(5000);
  const roots = [...document.querySelectorAll(".tmw-root")];
  return roots.map((r) => ({
    tiles: [...r.querySelectorAll(".tmw-data-layer canvas")].filter((c) => c.width > 1).length,
    layer: r.querySelector(".tmw-layer-select").value,
    error: r.querySelector(".tmw-error").hidden ? "" : r.querySelector(".tmw-error").textContent,
    transport: r.querySelector(".tmw-st-transport").textContent,
    bg: getComputedStyle(r).backgroundColor,
  }));
})()
