import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { EventBus, Events } from "../src/events.js";
import { memoAsync } from "../src/memo.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const src = path.join(here, "../src");

/** @param {string} dir @returns {string[]} */
const sources = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith(".js") ? [path.join(dir, e.name)] : []);

test("every event is documented in docs/protocol.md", () => {
  const doc = readFileSync(path.join(here, "../../docs/protocol.md"), "utf8");
  const section = doc.split("## Front-end events")[1]?.split("\n## ")[0] ?? "";
  const documented = [...section.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]).sort();
  assert.deepEqual(documented, Object.values(Events).sort());
});

test("no viewer event is named by a plain string", () => {
  const names = new Set(Object.values(Events));
  const offenders = [];
  for (const file of sources(src)) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/\b(?:viewer|this|events)\.(?:on|emit)\(\s*"(\w+)"/g)) {
      if (names.has(m[1])) offenders.push(`${path.relative(src, file)}: ${m[0]}`);
    }
  }
  assert.deepEqual(offenders, []);
});

test("the event bus delivers the detail and unsubscribes", () => {
  const bus = new EventBus();
  const got = [];
  const off = bus.on(Events.LAYER, (id) => got.push(id));
  bus.emit(Events.LAYER, "a");
  off();
  bus.emit(Events.LAYER, "b");
  assert.deepEqual(got, ["a"]);
});

test("memoAsync shares one promise per key and forgets failures", async () => {
  let calls = 0;
  const get = memoAsync(async (k) => {
    calls += 1;
    if (k === "bad" && calls < 3) throw new Error("no");
    return k.toUpperCase();
  });
  const [a, b] = await Promise.all([get("x"), get("x")]);
  assert.equal(a, "X");
  assert.equal(b, "X");
  assert.equal(calls, 1);
  await assert.rejects(get("bad"));
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(await get("bad"), "BAD");
  get.clear();
  await get("x");
  assert.equal(calls, 4);
});
