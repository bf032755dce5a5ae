// Report each viewer's traits from the kernel (dev/lab_shot.py --actions).
(async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  await sleep(4000);
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session.kernel;
  const fut = kernel.requestExecute({ code: "print([(w._transport, w._error, w._render_count) for w in [v, bad]])" });
  let out = "";
  fut.onIOPub = (msg) => { if (msg.header.msg_type === "stream") out += msg.content.text; if (msg.header.msg_type === "error") out += msg.content.evalue; };
  await fut.done;
  return { traits: out.trim(), banners: [...document.querySelectorAll(".tmw-error")].map((b) => (b.hidden ? "" : b.textContent)), statuses: [...document.querySelectorAll(".tmw-st-transport")].map((s) => s.textContent) };
})()
