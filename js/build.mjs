// Bundles the anywidget entry, the full-page entry and the stylesheet into
// ../tilemaker_widget/static/. `node build.mjs --watch` rebuilds on change.
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(here, "../tilemaker_widget/static");
const watch = process.argv.includes("--watch");

/** @type {import("esbuild").BuildOptions} */
const common = {
  bundle: true,
  format: "esm",
  target: ["es2020"],
  minify: !watch,
  sourcemap: false,
  logLevel: "info",
  // Leaflet's CSS references marker/layer PNGs; inline them so nothing is fetched at run time.
  loader: { ".png": "dataurl", ".svg": "dataurl" },
  legalComments: "none",
};

const builds = [
  { entryPoints: { widget: path.join(here, "src/widget.js") } },
  { entryPoints: { page: path.join(here, "src/page.js") } },
  { entryPoints: { widget: path.join(here, "src/styles.css") } },
];

if (watch) {
  for (const b of builds) {
    const ctx = await esbuild.context({ ...common, ...b, outdir });
    await ctx.watch();
  }
} else {
  await Promise.all(builds.map((b) => esbuild.build({ ...common, ...b, outdir })));
}
