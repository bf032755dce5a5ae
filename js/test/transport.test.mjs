import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ApiError, CommSource, HttpSource, RoutedSource, chooseTransport, getCookie, getJson, preloadedAnswers,
  layerIdOf, queryString,
} from "../src/transport.js";
import { PageModel } from "../src/model.js";

/** A fake anywidget model: records sends, lets the test answer on msg:custom. */
function fakeModel(initial = {}) {
  const m = new PageModel(initial);
  /** @type {any[]} */
  const sent = [];
  m.send = (content) => sent.push(content);
  const answer = (/** @type {any} */ content, /** @type {any[]} */ buffers) => {
    for (const cb of [...(m.listeners.get("msg:custom") ?? [])]) cb(content, buffers);
  };
  const saved = [];
  m.save_changes = () => saved.push({ transport: m.get("_transport") });
  return { m, sent, answer, saved };
}

const json = (/** @type {any} */ o) => new TextEncoder().encode(JSON.stringify(o));

/** A fake document with a cookie and an optional jupyter-config-data element. */
function fakeDocument(cookie, config) {
  return {
    cookie,
    getElementById: (/** @type {string} */ id) =>
      id === "jupyter-config-data" && config ? { textContent: JSON.stringify(config) } : null,
  };
}

/** A fake fetch answering from a table of url → [status, body]. */
function fakeFetch(routes) {
  /** @type {{url: string, init: any}[]} */
  const calls = [];
  const f = async (/** @type {string} */ url, /** @type {any} */ init) => {
    calls.push({ url, init });
    const path = url.split("?")[0];
    const r = await (typeof routes === "function" ? routes(url, init) : routes[path]);
    if (r instanceof Error) throw r;
    if (!r) return new Response(JSON.stringify({ error: "not found" }), { status: 404 });
    const [status, body] = r;
    return new Response(status === 204 ? null : JSON.stringify(body), {
      status, headers: { "Content-Type": "application/json" },
    });
  };
  return { f, calls };
}

test("comm: request goes out as {kind: api, id, ...}; answer matched by id; DataView body", async () => {
  const { m, sent, answer } = fakeModel();
  const comm = new CommSource(m);
  const p1 = comm.request("GET", "layers/abc/0/0/0/tile.f16", { flip: 1 });
  const p2 = comm.request("GET", "colormaps");
  assert.equal(sent.length, 2);
  assert.equal(sent[0].kind, "api");
  assert.equal(sent[0].method, "GET");
  assert.equal(sent[0].path, "layers/abc/0/0/0/tile.f16");
  assert.deepEqual(sent[0].query, { flip: 1 });
  assert.equal(sent[0].body, null);
  assert.notEqual(sent[0].id, sent[1].id);
  // answer out of order; body as a DataView into a larger buffer
  const raw = new Uint8Array([9, 9, 1, 2, 3, 9]);
  answer({ kind: "api", id: sent[1].id, status: 200, content_type: "application/json" }, [json({ colormaps: ["viridis"] })]);
  answer({ kind: "api", id: sent[0].id, status: 200, content_type: "application/octet-stream" }, [new DataView(raw.buffer, 2, 3)]);
  const r1 = await p1;
  assert.equal(r1.status, 200);
  assert.deepEqual([...new Uint8Array(r1.body)], [1, 2, 3]);
  const r2 = await p2;
  assert.equal(r2.contentType, "application/json");
  assert.deepEqual(JSON.parse(new TextDecoder().decode(r2.body)), { colormaps: ["viridis"] });
  comm.dispose();
});

test("comm: no buffer means an empty body; unknown ids and other kinds are ignored", async () => {
  const { m, sent, answer } = fakeModel();
  const comm = new CommSource(m);
  const p = comm.request("GET", "layers/x/3/1/1/tile.f16");
  answer({ kind: "other", id: sent[0].id, status: 500 }, []);
  answer({ kind: "api", id: sent[0].id + 1000, status: 500 }, []);
  answer({ kind: "api", id: sent[0].id, status: 204, content_type: "" }, []);
  const r = await p;
  assert.equal(r.status, 204);
  assert.equal(r.body.byteLength, 0);
  comm.dispose();
});

test("comm: abort rejects at once and the late answer is dropped", async () => {
  const { m, sent, answer } = fakeModel();
  const comm = new CommSource(m);
  const ctrl = new AbortController();
  const p = comm.request("GET", "layers/x/pixel", { ra: 1, dec: 2 }, null, ctrl.signal);
  ctrl.abort();
  await assert.rejects(p, { name: "AbortError" });
  answer({ kind: "api", id: sent[0].id, status: 200 }, [json({ value: 1 })]);
  assert.equal(comm.pending.size, 0);
  comm.dispose();
});

test("comm: two views of one model keep their requests apart", async () => {
  const { m, sent, answer } = fakeModel();
  const a = new CommSource(m);
  const b = new CommSource(m);
  const pa = a.request("GET", "colormaps/viridis");
  const pb = b.request("GET", "colormaps/magma");
  assert.notEqual(sent[0].id, sent[1].id);
  answer({ kind: "api", id: sent[1].id, status: 200 }, [json({ name: "magma" })]);
  answer({ kind: "api", id: sent[0].id, status: 200 }, [json({ name: "viridis" })]);
  assert.equal(JSON.parse(new TextDecoder().decode((await pa).body)).name, "viridis");
  assert.equal(JSON.parse(new TextDecoder().decode((await pb).body)).name, "magma");
});

test("http: URL under the root, XSRF header from the cookie, same-origin credentials, JSON body", async () => {
  const { f, calls } = fakeFetch({ "/user/a%40b/tilemaker/register": [200, { layers: [] }] });
  const doc = fakeDocument("foo=1; _xsrf=2%7Cabc%7C3; bar=2", null);
  const http = new HttpSource("/user/a%40b/tilemaker/", { fetch: f, document: /** @type {any} */ (doc) });
  const r = await http.request("POST", "register", { q: "x y", none: undefined }, { sources: [] });
  assert.equal(r.status, 200);
  assert.equal(calls[0].url, "/user/a%40b/tilemaker/register?q=x+y");
  assert.equal(calls[0].init.method, "POST");
  assert.equal(calls[0].init.credentials, "same-origin");
  assert.equal(calls[0].init.headers["X-XSRFToken"], "2|abc|3");
  assert.equal(calls[0].init.headers["Content-Type"], "application/json");
  assert.equal(calls[0].init.body, JSON.stringify({ sources: [] }));
  assert.equal(calls[0].init.mode, undefined); // never a CORS request
});

test("http: preloaded answers are given once, for a GET without query, then the network answers", async () => {
  const { f, calls } = fakeFetch({ "/t/layers": [200, [{ layer_id: "fresh" }]], "/t/colormaps": [200, { colormaps: ["x"] }] });
  const preloaded = { layers: [{ layer_id: "from-page", name: "</script>" }], colormaps: { colormaps: ["viridis"] } };
  const http = new HttpSource("/t/", { fetch: f, document: /** @type {any} */ (fakeDocument("", null)), preloaded });
  assert.deepEqual(await getJson(http, "layers"), preloaded.layers);
  assert.equal(calls.length, 0);
  assert.deepEqual(await getJson(http, "colormaps", { q: 1 }), { colormaps: ["x"] }); // a query: the network
  assert.equal(calls.length, 1);
  assert.deepEqual(await getJson(http, "layers"), [{ layer_id: "fresh" }]); // once only
  assert.deepEqual(await getJson(http, "colormaps"), { colormaps: ["viridis"] });
  assert.equal(calls.length, 2);
});

test("page: preloaded answers from the page's script element; absent or broken → none", async () => {
  const doc = (/** @type {string | null} */ text) => /** @type {any} */ ({ getElementById: () => (text === null ? null : { textContent: text }) });
  assert.deepEqual(preloadedAnswers(doc('{"layers": []}')), { layers: [] });
  assert.deepEqual(preloadedAnswers(doc(null)), {});
  assert.deepEqual(preloadedAnswers(doc("{broken")), {});
  assert.deepEqual(preloadedAnswers(doc("[1, 2]")), {});
});

test("getJson raises ApiError with the server's message", async () => {
  const { f } = fakeFetch({ "/t/layers/nope": [404, { error: "unknown layer nope" }] });
  const http = new HttpSource("/t/", { fetch: f, document: /** @type {any} */ (fakeDocument("", null)) });
  await assert.rejects(getJson(http, "layers/nope"), (e) => e instanceof ApiError && e.status === 404 && e.message === "unknown layer nope");
});

test("helpers: cookie, query string, layer id of a path", () => {
  assert.equal(getCookie("_xsrf", /** @type {any} */ ({ cookie: "a=1; _xsrf=tok" })), "tok");
  assert.equal(getCookie("_xsrf", /** @type {any} */ ({ cookie: "" })), "");
  assert.equal(queryString({ a: 1, b: true, c: null }), "?a=1&b=1");
  assert.equal(queryString({}), "");
  assert.equal(layerIdOf("layers/f123/3/1/2/tile.f16"), "f123");
  assert.equal(layerIdOf("layers/f123/pixel"), "f123");
  assert.equal(layerIdOf("layers/f123"), "f123");
  assert.equal(layerIdOf("histograms/data/f9"), "f9");
  assert.equal(layerIdOf("layers/default"), null);
  assert.equal(layerIdOf("layers"), null);
  assert.equal(layerIdOf("colormaps/viridis"), null);
});

const LAYERS = [
  { id: "fa", name: "I", transport: "http", source: { path: "/data/a.fits", hdu: 0, index: 0 } },
  { id: "fb", name: "Q", transport: "http", source: { path: "/data/b.fits", hdu: 1, index: null } },
  { id: "m1", name: "array", transport: "comm", source: null },
];

test("chooseTransport: probe OK → register file layers; routing per layer; _transport = http", async () => {
  const { f, calls } = fakeFetch({
    "/user/x/tilemaker/status": [200, { name: "tilemaker-widget", version: "0", api: 1 }],
    "/user/x/tilemaker/register": [200, { layers: [{ layer_id: "fa" }] }], // fb not readable by the server
    "/user/x/tilemaker/colormaps": [200, { colormaps: [] }],
    "/user/x/tilemaker/layers/fa/0/0/0/tile.f16": [204, null],
  });
  const doc = fakeDocument("_xsrf=t", { baseUrl: "/user/x/" });
  const { m, sent, saved } = fakeModel({ layers: LAYERS });
  const src = await chooseTransport(/** @type {any} */ (m), { document: /** @type {any} */ (doc), fetch: f });
  assert.equal(m.get("_transport"), "http");
  assert.deepEqual(saved.at(-1), { transport: "http" });
  const reg = calls.find((c) => c.url.endsWith("/register"));
  assert.deepEqual(JSON.parse(reg?.init.body), {
    sources: [{ path: "/data/a.fits", hdu: 0, index: 0, name: "I" }, { path: "/data/b.fits", hdu: 1, name: "Q" }],
  });
  assert.equal(src.kindFor("fa"), "http");
  assert.equal(src.kindFor("fb"), "comm");
  assert.equal(src.kindFor("m1"), "comm");
  assert.equal((await src.request("GET", "layers/fa/0/0/0/tile.f16", { flip: 1 })).status, 204);
  assert.equal((await src.request("GET", "colormaps")).status, 200);
  assert.equal(sent.length, 0);
  const quiet = () => {};
  src.request("GET", "layers/m1/0/0/0/tile.f16").catch(quiet);
  src.request("GET", "histograms/data/fb").catch(quiet);
  assert.deepEqual(sent.map((s) => s.path), ["layers/m1/0/0/0/tile.f16", "histograms/data/fb"]);
  src.dispose();
});

test("chooseTransport: with the _xsrf cookie the register is the probe; without it, status first", async () => {
  const routes = {
    "/user/x/tilemaker/status": [200, { name: "tilemaker-widget", version: "0", api: 1 }],
    "/user/x/tilemaker/register": [200, { layers: [{ layer_id: "fa" }] }],
  };
  for (const [cookie, first] of [["_xsrf=t", "/user/x/tilemaker/register"], ["", "/user/x/tilemaker/status"]]) {
    const { f, calls } = fakeFetch(routes);
    const { m } = fakeModel({ layers: LAYERS });
    const src = await chooseTransport(/** @type {any} */ (m), { document: /** @type {any} */ (fakeDocument(cookie, { baseUrl: "/user/x/" })), fetch: f });
    assert.equal(calls[0].url, first, cookie);
    assert.equal(calls.filter((c) => c.url.endsWith("/register")).length, 1);
    assert.equal(m.get("_transport"), "http");
    assert.equal(src.kindFor("fa"), "http");
    src.dispose();
  }
  // A server without the extension: the register fails, the probe decides (comm).
  const { f, calls } = fakeFetch({});
  const { m } = fakeModel({ layers: LAYERS });
  const src = await chooseTransport(/** @type {any} */ (m), { document: /** @type {any} */ (fakeDocument("_xsrf=t", { baseUrl: "/b/" })), fetch: f });
  assert.deepEqual(calls.map((c) => c.url), ["/b/tilemaker/register", "/b/tilemaker/status"]);
  assert.equal(m.get("_transport"), "comm");
  assert.equal(src.http, null);
  src.dispose();
});

test("chooseTransport: no page config (VS Code, Colab) → comm without any fetch", async () => {
  const { f, calls } = fakeFetch({});
  const { m, sent } = fakeModel({ layers: LAYERS });
  const src = await chooseTransport(/** @type {any} */ (m), { document: /** @type {any} */ (fakeDocument("", null)), fetch: f });
  assert.equal(calls.length, 0);
  assert.equal(m.get("_transport"), "comm");
  src.request("GET", "colormaps").catch(() => {});
  assert.equal(sent.length, 1);
  src.dispose();
});

test("chooseTransport: extension absent (404 / wrong JSON / network error / timeout) → comm", async () => {
  for (const routes of [
    {},
    { "/b/tilemaker/status": [200, { name: "something-else" }] },
    { "/b/tilemaker/status": new TypeError("network") },
    () => new Promise(() => {}), // never answers
  ]) {
    const fetch = typeof routes === "function"
      ? /** @type {any} */ ((/** @type {string} */ _u, /** @type {any} */ init) => new Promise((_, reject) => init.signal.addEventListener("abort", () => reject(Object.assign(new Error("aborted"), { name: "AbortError" })))))
      : fakeFetch(routes).f;
    const { m } = fakeModel({ layers: LAYERS });
    const src = await chooseTransport(/** @type {any} */ (m), { document: /** @type {any} */ (fakeDocument("", { baseUrl: "/b/" })), fetch, timeoutMs: 50 });
    assert.equal(m.get("_transport"), "comm");
    assert.equal(src.http, null);
    src.dispose();
  }
});

test("routed: an HTTP network failure falls back to the comm", async () => {
  const { m, sent, answer } = fakeModel();
  const http = new HttpSource("/r/", { fetch: async () => { throw new TypeError("failed to fetch"); }, document: /** @type {any} */ (fakeDocument("", null)) });
  const src = new RoutedSource(http, new CommSource(m));
  src.httpLayers.add("fa");
  const p = src.request("GET", "layers/fa/pixel", { ra: 1, dec: 1 });
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(sent.length, 1);
  answer({ kind: "api", id: sent[0].id, status: 200 }, [json({ value: 3 })]);
  assert.equal((await p).status, 200);
  src.dispose();
});

test("register: a failing batch is retried source by source; a refusal (403) is not", async () => {
  let calls = 0;
  const { f } = fakeFetch((/** @type {string} */ url, /** @type {any} */ init) => {
    if (!url.endsWith("/register")) return undefined;
    calls++;
    const sources = JSON.parse(init.body).sources;
    if (sources.some((/** @type {any} */ s) => s.path === "/data/b.fits")) return [422, { error: "b.fits: not an image" }];
    return [200, { layers: sources.map((/** @type {any} */ s) => ({ layer_id: s.path === "/data/a.fits" ? "fa" : "?" })) }];
  });
  const doc = /** @type {any} */ (fakeDocument("", null));
  const src = new RoutedSource(new HttpSource("/r/", { fetch: f, document: doc }), null);
  await src.sync(LAYERS);
  assert.equal(calls, 3); // the batch, then a and b alone
  assert.deepEqual([...src.httpLayers], ["fa"]);
  await src.sync(LAYERS); // nothing new to offer
  assert.equal(calls, 3);

  let refusals = 0;
  const { f: refuse } = fakeFetch(() => (refusals++, [403, { error: "registering files is disabled on this server" }]));
  const src2 = new RoutedSource(new HttpSource("/r/", { fetch: refuse, document: doc }), null);
  await src2.sync(LAYERS);
  assert.equal(refusals, 1);
  assert.equal(src2.httpLayers.size, 0);
});

test("register: derived layers go by provider and id, after their inputs, one sync after another", async () => {
  const P = { provider_type: "polarization", quantity: "P", Q: { provider_type: "fits", filename: "/data/a.fits", hdu: 0, index: 1 }, U: { provider_type: "fits", filename: "/data/a.fits", hdu: 0, index: 2 } };
  const planes = [
    { id: "fq", name: "Q", transport: "http", source: { path: "/data/a.fits", hdu: 0, index: 1 } },
    { id: "pp", name: "P", transport: "http", source: { provider: P } },
  ];
  const expr = { id: "xe", name: "Q − P", transport: "http", source: { provider: { provider_type: "expression", expression: "a - b", inputs: { a: "fq", b: "pp" } } } };
  /** @type {any[][]} */
  const bodies = [];
  /** @type {(() => void)[]} */
  const held = [];
  const { f } = fakeFetch((/** @type {string} */ url, /** @type {any} */ init) => {
    if (!url.endsWith("/register")) return undefined;
    const sources = JSON.parse(init.body).sources;
    bodies.push(sources);
    const answer = [200, { layers: sources.map((/** @type {any} */ s) => ({ layer_id: s.layer_id ?? "fq" })) }];
    // The first batch answers only when the test lets it: the second must wait for it.
    return bodies.length === 1 ? new Promise((resolve) => held.push(() => resolve(answer))) : answer;
  });
  const src = new RoutedSource(new HttpSource("/r/", { fetch: f, document: /** @type {any} */ (fakeDocument("", null)) }), null);
  const first = src.sync(planes);
  const second = src.sync([...planes, expr]);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(bodies.length, 1, "the expression waits for its inputs' registration");
  held[0]();
  await Promise.all([first, second]);
  assert.deepEqual(bodies, [
    [{ path: "/data/a.fits", hdu: 0, index: 1, name: "Q" }, { provider: P, layer_id: "pp", name: "P" }],
    [{ provider: expr.source.provider, layer_id: "xe", name: "Q − P" }],
  ]);
  assert.deepEqual([...src.httpLayers].sort(), ["fq", "pp", "xe"]);
});

test("register: a failed batch is retried one source at a time, in order", async () => {
  /** @type {string[]} */
  const order = [];
  let inFlight = 0;
  const { f } = fakeFetch(async (/** @type {string} */ url, /** @type {any} */ init) => {
    if (!url.endsWith("/register")) return undefined;
    const sources = JSON.parse(init.body).sources;
    if (sources.length > 1) return [404, { error: "sources[2]: expression input 'a': unknown layer 'zz'" }];
    inFlight++;
    assert.equal(inFlight, 1, "retries run one after another");
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    order.push(sources[0].layer_id ?? sources[0].path);
    return [200, { layers: [{ layer_id: sources[0].layer_id ?? "fa" }] }];
  });
  const layers = [
    LAYERS[0],
    { id: "pp", name: "P", transport: "http", source: { provider: { provider_type: "polarization" } } },
    { id: "xe", name: "x", transport: "http", source: { provider: { provider_type: "expression" } } },
  ];
  const src = new RoutedSource(new HttpSource("/r/", { fetch: f, document: /** @type {any} */ (fakeDocument("", null)) }), null);
  await src.sync(layers);
  assert.deepEqual(order, ["/data/a.fits", "pp", "xe"]);
});
