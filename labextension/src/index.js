/**
 * JupyterLab / Notebook 7 plugin: FITS files open in tilemaker-widget's viewer.
 *
 * A document widget factory "Sky map viewer" for `.fits` files (the default one, so a
 * double-click opens it, and listed under "Open With"). Opening a file registers it
 * with the server extension (`POST {base}tilemaker/register`, the same route the widget
 * uses, with the same path policy) and shows the extension's full-page viewer on its
 * first layer in an iframe. The file's bytes are never loaded into the browser: the
 * model factory asks the contents API for no content (`fileFormat: null`).
 */
import { PageConfig, URLExt } from "@jupyterlab/coreutils";
import { ABCWidgetFactory, DocumentWidget, TextModelFactory } from "@jupyterlab/docregistry";
import { ServerConnection } from "@jupyterlab/services";
import { IFrame } from "@jupyterlab/ui-components";

const FACTORY = "Sky map viewer";
const FILE_TYPE = "fits";
const MODEL = "tilemaker-sky-map";

/** A model that loads nothing: the viewer reads the file on the server. */
class SkyMapModelFactory extends TextModelFactory {
  get name() {
    return MODEL;
  }
  get contentType() {
    return "file";
  }
  get fileFormat() {
    return null;
  }
}

/**
 * The file's path on the server: the contents path under the server's root folder.
 * @param {string} path
 */
export function serverPath(path) {
  const root = PageConfig.getOption("serverRoot") || "";
  return root ? `${root.replace(/\/+$/, "")}/${path}` : path;
}

/**
 * Register a file; the id of its first layer, or throw with the server's message.
 * @param {string} path  contents path
 */
async function register(path) {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, "tilemaker", "register");
  const resp = await ServerConnection.makeRequest(
    url,
    { method: "POST", body: JSON.stringify({ sources: [{ path: serverPath(path) }] }) },
    settings,
  );
  const text = await resp.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON: say what came back */
  }
  if (!resp.ok) {
    const why = body && typeof body.error === "string" ? body.error : text.slice(0, 200) || `HTTP ${resp.status}`;
    throw new Error(resp.status === 404 && !body ? "the tilemaker-widget server extension is not enabled" : why);
  }
  const layers = Array.isArray(body) ? body : body?.layers ?? [];
  if (!layers.length) throw new Error("the file holds no image the viewer can show");
  return String(layers[0].layer_id ?? layers[0].id);
}

class SkyMapFactory extends ABCWidgetFactory {
  /** @param {any} context */
  createNewWidget(context) {
    const content = new IFrame({ sandbox: ["allow-scripts", "allow-same-origin", "allow-downloads", "allow-popups"] });
    content.addClass("tmw-lab-viewer");
    content.title.label = context.localPath.split("/").pop() ?? context.path;
    const widget = new DocumentWidget({ content, context });
    widget.addClass("tmw-lab-document");
    register(context.path).then(
      (layer) => {
        const base = PageConfig.getBaseUrl();
        content.url = `${URLExt.join(base, "tilemaker", "view")}?layer=${encodeURIComponent(layer)}`;
        widget.node.dataset.tmwLayer = layer;
      },
      (err) => {
        const note = document.createElement("div");
        note.className = "tmw-lab-error";
        note.textContent = `Cannot show ${context.path}: ${err instanceof Error ? err.message : String(err)}`;
        content.node.replaceChildren(note);
      },
    );
    return widget;
  }
}

/** @type {import("@jupyterlab/application").JupyterFrontEndPlugin<void>} */
const plugin = {
  id: "tilemaker-widget-lab:sky-map-viewer",
  description: "Open FITS sky maps from the file browser in tilemaker-widget's viewer",
  autoStart: true,
  activate: (app) => {
    const registry = app.docRegistry;
    if (!registry.getFileType(FILE_TYPE)) {
      registry.addFileType({
        name: FILE_TYPE,
        displayName: "FITS image",
        extensions: [".fits", ".fit", ".fts"],
        mimeTypes: ["image/fits", "application/fits"],
        contentType: "file",
        fileFormat: "base64",
        iconClass: "jp-ImageIcon",
      });
    }
    registry.addModelFactory(new SkyMapModelFactory());
    registry.addWidgetFactory(
      new SkyMapFactory({
        name: FACTORY,
        label: FACTORY,
        modelName: MODEL,
        fileTypes: [FILE_TYPE],
        defaultFor: [FILE_TYPE],
        readOnly: true,
      }),
    );
  },
};

export default plugin;
