// Builds dist/ (served by the node, embedded in the depin binary) from src/:
// app.js (src/main.js with MapLibre, h3-js and topojson-client, bundled and minified by
// esbuild), app.css (MapLibre's stylesheet and src/app.css), index.html, and land.json (the
// offline basemap: Natural Earth 1:50m land from world-atlas, TopoJSON, turned into GeoJSON
// in the page).
// Reproducible: pinned versions in package-lock.json, no timestamps, no source maps.
import * as esbuild from "esbuild";
import { mkdirSync, copyFileSync } from "node:fs";

mkdirSync("dist", { recursive: true });
await esbuild.build({
  entryPoints: ["src/main.js"],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  legalComments: "none",
  outfile: "dist/app.js",
});
await esbuild.build({
  entryPoints: ["src/app.css"],
  bundle: true,
  minify: true,
  legalComments: "none",
  outfile: "dist/app.css",
});
copyFileSync("src/index.html", "dist/index.html");
copyFileSync("node_modules/world-atlas/land-50m.json", "dist/land.json");
console.log("explorer built into dist/");
