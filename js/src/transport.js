// Tile sources: one request() interface over HTTP (server extension) or the widget comm.

import { toArrayBuffer } from "./datatile.js";

/**
 * @typedef {object} ApiResponse
 * @property {number} status
 * @property {string} contentType
 * @property {ArrayBuffer} body
 */

/**
 * @typedef {Record<string, string | number | boolean | null | undefined>} Query
 */

/**
 * @typedef {object} TileSource
 * @property {"http" | "comm" | "routed"} kind
 * @property {(method: string, path: string, query?: Query, body?: any, signal?: AbortSignal) => Promise<ApiResponse>} request
 * @property {(layerId: string) => "http" | "comm"} [kindFor]  which transport serves a layer
 * @property {(layers: any[]) => Promise<void>} [sync]  register newly added layers
 * @property {TileSource | null} [comm]  the kernel comm, when there is a kernel (kernel-only data such as catalogues)
 * @property {() => void} [dispose]
 */

/**
 * @typedef {object} CommModel
 * @property {(content: any, callbacks?: any, buffers?: any[]) => void} send
 * @property {(event: string, cb: (...args: any[]) => void) => void} on
 * @property {(event?: string, cb?: (...args: any[]) => void) => void} off
 * @property {(name: string) => any} get
 * @property {(name: string, value: any) => void} set
 * @property {() => void} save_changes
 */

/** An API answer with a 4xx/5xx status, carrying the server's `{"error": ...}` text. */
export class ApiError extends Error {
  /** @param {number} status @param {string} message @param {string} [path] */
  constructor(status, message, path) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.path = path;
  }
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** @param {ApiResponse} resp */
export function responseText(resp) {
  return decoder.decode(resp.body);
}

/**
 * The error message of a failed response: the JSON `error` field when there is one.
 * @param {ApiResponse} resp
 */
export function errorMessage(resp) {
  const text = responseText(resp);
  try {
    const j = JSON.parse(text);
    if (j && typeof j.error === "string") return j.error;
    if (j && typeof j.detail === "string") return j.detail; // TileMaker/FastAPI style
  } catch {
    /* not JSON: fall through */
  }
  return text.trim().slice(0, 200) || `HTTP ${resp.status}`;
}

/**
 * Request and parse JSON; throws ApiError on ≥ 400.
 * @param {TileSource} source
 * @param {string} path
 * @param {Query} [query]
 * @param {AbortSignal} [signal]
 * @param {{method?: string, body?: any}} [opts]
 * @returns {Promise<any>}
 */
export async function getJson(source, path, query, signal, opts = {}) {
  const resp = await source.request(opts.method ?? "GET", path, query, opts.body ?? null, signal);
  if (resp.status >= 400) throw new ApiError(resp.status, errorMessage(resp), path);
  if (resp.status === 204 || resp.body.byteLength === 0) return null;
  return JSON.parse(responseText(resp));
}

/** @returns {Error} */
export function abortError() {
  const e = new Error("aborted");
  e.name = "AbortError";
  return e;
}

/** @param {unknown} e */
export const isAbort = (e) => e instanceof Error && e.name === "AbortError";

/**
 * @param {Query | undefined} query
 * @returns {string}
 */
export function queryString(query) {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null) continue;
    params.append(k, typeof v === "boolean" ? (v ? "1" : "0") : String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : "";
}

/**
 * @param {string} name
 * @param {Document} [doc]
 */
export function getCookie(name, doc = globalThis.document) {
  const cookies = doc?.cookie ? doc.cookie.split(";") : [];
  for (const c of cookies) {
    const i = c.indexOf("=");
    if (i > 0 && c.slice(0, i).trim() === name) return decodeURIComponent(c.slice(i + 1).trim());
  }
  return "";
}

/**
 * The Jupyter page config (JupyterLab, Notebook 7, Voilà, JupyterHub); null in
 * VS Code, Colab and other hosts that have no Jupyter server page.
 * @param {Document} [doc]
 * @returns {Record<string, any> | null}
 */
export function jupyterPageConfig(doc = globalThis.document) {
  const el = doc?.getElementById?.("jupyter-config-data");
  if (!el || !el.textContent) return null;
  try {
    return JSON.parse(el.textContent);
  } catch {
    return null;
  }
}

/**
 * The answers the page was served with (`<script id="tilemaker-preload">`, written by
 * the server's `Api.page_preload`): path → JSON. Empty when absent or unreadable.
 * @param {Document} doc
 * @returns {Record<string, any>}
 */
export function preloadedAnswers(doc) {
  const text = doc.getElementById("tilemaker-preload")?.textContent ?? "";
  try {
    const value = text.trim() ? JSON.parse(text) : {};
    return value && typeof value === "object" && !Array.isArray(value) ? value : {};
  } catch {
    return {};
  }
}

/** HTTP to the server extension. Every request carries the XSRF token (JupyterHub checks it on GETs too). */
export class HttpSource {
  /**
   * @param {string} root  API root URL ending in "tilemaker/"
   * @param {{fetch?: typeof fetch, document?: Document, token?: string, preloaded?: Record<string, any>}} [opts]
   *   `preloaded`: answers the page was served with (path → JSON, `Api.page_preload`),
   *   each given once in place of its first GET without a query
   */
  constructor(root, opts = {}) {
    /** @type {"http"} */
    this.kind = "http";
    this.root = root.endsWith("/") ? root : `${root}/`;
    this.fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.document = opts.document ?? globalThis.document;
    this.token = opts.token ?? "";
    /** @type {Map<string, any>} */
    this.preloaded = new Map(Object.entries(opts.preloaded ?? {}));
  }

  /**
   * @param {string} method
   * @param {string} path
   * @param {Query} [query]
   * @param {any} [body]
   * @param {AbortSignal} [signal]
   * @returns {Promise<ApiResponse>}
   */
  async request(method, path, query, body, signal) {
    if (method === "GET" && !queryString(query) && this.preloaded.has(path)) {
      const value = this.preloaded.get(path);
      this.preloaded.delete(path); // once: a later ask (a refresh) goes to the server
      const bytes = encoder.encode(JSON.stringify(value));
      return { status: 200, contentType: "application/json", body: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) };
    }
    /** @type {Record<string, string>} */
    const headers = {};
    const xsrf = getCookie("_xsrf", this.document);
    if (xsrf) headers["X-XSRFToken"] = xsrf;
    if (this.token) headers.Authorization = `token ${this.token}`;
    /** @type {RequestInit} */
    const init = { method, headers, credentials: "same-origin", signal };
    if (body !== null && body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await this.fetch(this.root + path + queryString(query), init);
    return {
      status: r.status,
      contentType: r.headers.get("Content-Type") ?? "",
      body: await r.arrayBuffer(),
    };
  }
}

/**
 * The widget comm: requests go to the kernel as `{kind: "api", id, ...}`, answers come
 * back on `msg:custom` with the body in buffers[0], matched by id.
 */
export class CommSource {
  /** @param {Pick<CommModel, "send" | "on" | "off">} model */
  constructor(model) {
    /** @type {"comm"} */
    this.kind = "comm";
    this.model = model;
    // One widget model can be displayed in several views, each with its own CommSource
    // seeing every answer: a random starting id keeps their ids apart.
    this.nextId = Math.floor(Math.random() * 2 ** 40);
    /** @type {Map<number, {resolve: (r: ApiResponse) => void, reject: (e: Error) => void}>} */
    this.pending = new Map();
    this.onMessage = this.onMessage.bind(this);
    model.on("msg:custom", this.onMessage);
  }

  /**
   * @param {string} method
   * @param {string} path
   * @param {Query} [query]
   * @param {any} [body]
   * @param {AbortSignal} [signal]
   * @returns {Promise<ApiResponse>}
   */
  request(method, path, query, body, signal) {
    if (signal?.aborted) return Promise.reject(abortError());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // The kernel still answers an aborted request; its answer is dropped by id.
      signal?.addEventListener("abort", () => {
        if (this.pending.delete(id)) reject(abortError());
      }, { once: true });
      this.model.send({ kind: "api", id, method, path, query: query ?? {}, body: body ?? null });
    });
  }

  /**
   * @param {any} msg
   * @param {any[]} [buffers]
   */
  onMessage(msg, buffers) {
    if (!msg || msg.kind !== "api") return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    const body = buffers && buffers.length ? toArrayBuffer(buffers[0]) : new ArrayBuffer(0);
    p.resolve({ status: msg.status, contentType: msg.content_type ?? "", body });
  }

  dispose() {
    this.model.off("msg:custom", this.onMessage);
    for (const p of this.pending.values()) p.reject(abortError());
    this.pending.clear();
  }
}

/**
 * A layer's entry in `register`'s body: `{path, hdu, index, name}` for a FITS plane,
 * `{provider, layer_id, name}` for a derived layer (the server checks the id it computes).
 * @param {any} l  an entry of the `layers` trait
 */
export function registerSource(l) {
  /** @type {Record<string, any>} */
  const s = {};
  if (l.source.provider) {
    s.provider = l.source.provider;
    s.layer_id = l.id;
  } else {
    s.path = l.source.path;
    if (l.source.hdu !== undefined && l.source.hdu !== null) s.hdu = l.source.hdu;
    if (l.source.index !== undefined && l.source.index !== null) s.index = l.source.index;
  }
  if (l.name) s.name = l.name;
  return s;
}

const LAYER_PATH = /^(?:layers|histograms\/data)\/([^/?]+)/;

/** @param {string} path */
export function layerIdOf(path) {
  const m = LAYER_PATH.exec(path);
  return m && m[1] !== "default" ? decodeURIComponent(m[1]) : null;
}

/**
 * Whether the kernel marked a layer for the server's `register` (a FITS plane or a
 * derived layer of FITS files, with what to send).
 * @param {any} l  a `layers` trait entry
 */
const registrable = (l) => !!(l && l.transport === "http" && l.source);

/**
 * Sends each layer's requests over HTTP when the server registered it, over the comm
 * otherwise; layer-free requests (colormaps, status) prefer HTTP, which works while
 * the kernel is busy.
 */
export class RoutedSource {
  /**
   * @param {HttpSource | null} http
   * @param {CommSource | null} comm
   */
  constructor(http, comm) {
    /** @type {"routed"} */
    this.kind = "routed";
    this.http = http;
    this.comm = comm;
    /** @type {Set<string>} */
    this.httpLayers = new Set();
    /** @type {Set<string>} sources already offered to `register` */
    this.offered = new Set();
    /** @type {Promise<void>} the `sync` running (they run one after another) */
    this.syncing = Promise.resolve();
    /** whether a `register` was answered (the extension is there) */
    this.reached = false;
  }

  /**
   * Whether `sync` would offer any of these layers to `register`.
   * @param {any[]} layers  the `layers` trait
   */
  static offers(layers) {
    return (layers ?? []).some(registrable);
  }

  /** @param {string} layerId */
  kindFor(layerId) {
    return this.http && (this.httpLayers.has(layerId) || !this.comm) ? "http" : "comm";
  }

  /**
   * @param {string} method
   * @param {string} path
   * @param {Query} [query]
   * @param {any} [body]
   * @param {AbortSignal} [signal]
   */
  async request(method, path, query, body, signal) {
    const id = layerIdOf(path);
    const useHttp = this.http && (id === null ? true : this.kindFor(id) === "http");
    if (useHttp && this.http) {
      try {
        return await this.http.request(method, path, query, body, signal);
      } catch (e) {
        // A network failure (server gone, proxy hiccup) falls back to the kernel.
        if (isAbort(e) || !this.comm) throw e;
      }
    }
    if (!this.comm) throw new Error(`no transport for ${path}`);
    return this.comm.request(method, path, query, body, signal);
  }

  /**
   * Offer every layer marked for HTTP to the server's `register`: FITS planes by path,
   * derived layers (P, P/I, ψ, combinations, band math) by their provider, in the
   * `layers` trait's order, so an expression's inputs are registered before it. The ids
   * the server returns are served over HTTP from then on. Calls run one after another:
   * a layer added while an earlier batch is in flight may name its layers.
   * @param {any[]} layers  the `layers` trait
   * @param {boolean} [retry]  try a failed batch's sources one by one (default)
   * @returns {Promise<void>}
   */
  sync(layers, retry = true) {
    const run = this.syncing.then(() => this.offer(layers, retry));
    this.syncing = run.catch(() => {});
    return run;
  }

  /**
   * @param {any[]} layers
   * @param {boolean} retry  try a failed batch's sources one by one
   */
  async offer(layers, retry) {
    const http = this.http;
    if (!http) return;
    const todo = (layers ?? []).filter((l) => registrable(l) && !this.offered.has(l.id));
    if (!todo.length) return;
    for (const l of todo) this.offered.add(l.id);
    const sources = todo.map(registerSource);
    // One unreadable file fails a whole batch; then each source is tried alone, in order
    // (an expression needs its inputs first), so the others still go over HTTP.
    const register = async (/** @type {any[]} */ batch) => {
      const answer = await getJson(http, "register", undefined, undefined, { method: "POST", body: { sources: batch } });
      if (Array.isArray(answer?.layers)) this.reached = true;
      for (const d of answer?.layers ?? []) {
        const id = d.layer_id ?? d.id;
        if (typeof id === "string") this.httpLayers.add(id);
      }
    };
    try {
      await register(sources);
    } catch (e) {
      if (retry && sources.length > 1 && !(e instanceof ApiError && e.status === 403)) {
        for (const s of sources) await register([s]).catch(() => {});
      } else {
        console.warn("tilemaker-widget: register failed, the kernel serves these layers", e);
      }
    }
  }

  dispose() {
    this.comm?.dispose();
  }
}

/**
 * Resolve a promise or give up after `ms`.
 * @template T
 * @param {(signal: AbortSignal) => Promise<T>} f
 * @param {number} ms
 * @returns {Promise<T>}
 */
async function withTimeout(f, ms) {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), ms);
  try {
    return await f(ctrl.signal);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * How long the probe of the server extension may take. It runs once per model, from
 * `initialize`, without holding it; a loaded server (a busy single-user node) may
 * need seconds, and a probe given up for lost sends every tile through the kernel.
 */
const PROBE_TIMEOUT_MS = 10000;

/**
 * Probe the server extension and build the widget's tile source.
 * @param {CommModel} model
 * @param {{document?: Document, fetch?: typeof fetch, timeoutMs?: number}} [opts]
 * @returns {Promise<RoutedSource>}
 */
export async function chooseTransport(model, opts = {}) {
  const doc = opts.document ?? globalThis.document;
  const comm = new CommSource(model);
  let http = null;
  const config = jupyterPageConfig(doc);
  const finish = (/** @type {RoutedSource} */ source) => {
    model.set("_transport", source.httpLayers.size ? "http" : "comm");
    model.save_changes();
    return source;
  };
  if (config && typeof config.baseUrl === "string") {
    const base = config.baseUrl.endsWith("/") ? config.baseUrl : `${config.baseUrl}/`;
    const candidate = new HttpSource(`${base}tilemaker/`, {
      fetch: opts.fetch,
      document: doc,
      token: typeof config.token === "string" ? config.token : "",
    });
    const layers = model.get("layers");
    if (getCookie("_xsrf", doc) && RoutedSource.offers(layers)) {
      // The page has its _xsrf cookie (JupyterLab and Notebook 7 set it; Voilà does not,
      // and the probe below sets it): the register POST itself is the probe, one round
      // trip fewer before the first tile (40 ms and more on a remote link). Answered
      // with a layer list, the extension is there; anything else (no extension, a
      // refusal, no answer in time) falls back to the probe.
      const trial = new RoutedSource(candidate, comm);
      const ms = opts.timeoutMs ?? PROBE_TIMEOUT_MS;
      /** @type {ReturnType<typeof setTimeout> | undefined} */
      let timer;
      const late = new Promise((resolve) => (timer = setTimeout(resolve, ms)));
      await Promise.race([trial.sync(layers, false).catch(() => {}), late]);
      clearTimeout(timer);
      if (trial.reached) return finish(trial);
    }
    try {
      const resp = await withTimeout((signal) => candidate.request("GET", "status", undefined, null, signal), opts.timeoutMs ?? PROBE_TIMEOUT_MS);
      if (resp.status === 200 && JSON.parse(responseText(resp)).name === "tilemaker-widget") http = candidate;
    } catch {
      /* no extension, wrong host, timeout: the comm serves everything */
    }
  }
  const source = new RoutedSource(http, comm);
  await source.sync(model.get("layers"));
  return finish(source);
}
