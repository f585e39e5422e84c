// depin explorer: a single-page app over the node's API (same origin) and the oracle's
// published epochs (proxied by the node under /explorer/oracle/). Pages by hash route:
// #/ (coverage map), #/device/A, #/hex/H, #/account/A, #/block/ID, #/tx/ID, #/epoch/E,
// #/blocks, #/epochs, #/search/Q.
import maplibregl from "maplibre-gl";
import { cellToBoundary, cellToParent, isValidCell, getResolution } from "h3-js";
import { feature } from "topojson-client";

const ORACLE = "/explorer/oracle/v1";
const MAP_HEX_RES = 8;
const BONES_PER_TOKEN = 100000000n;
const RECENT_BLOCKS = 20;
const CHART_EPOCHS = 24;
const OWNER_SCAN_PAGES = 20;

const page = document.getElementById("page");

async function api(path) {
  const r = await fetch(path);
  if (!r.ok) {
    let msg = r.statusText;
    try { const b = await r.json(); msg = `${b.code}: ${b.message}`; } catch (_) { /* not JSON */ }
    const e = new Error(msg);
    e.status = r.status;
    throw e;
  }
  return r.json();
}

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function tokens(bones) {
  const b = BigInt(bones || "0");
  const frac = (b % BONES_PER_TOKEN).toString().padStart(8, "0").replace(/0+$/, "");
  return `${b / BONES_PER_TOKEN}${frac ? "." + frac : ""}`;
}

const LINKS = { owner: "account", address: "account", device: "device", proposer: "account", maker: "account", parent_hash: "block", hash: "block", latest_block_hash: "block" };

function cell(key, value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return `<code>${esc(JSON.stringify(value))}</code>`;
  const route = LINKS[key];
  if (route && typeof value === "string" && value.length > 20) return `<a href="#/${route}/${esc(value)}">${esc(value)}</a>`;
  if (key.endsWith("_bones")) return `${esc(tokens(value))} tokens`;
  if (key === "location" && isValidCell(String(value))) {
    const hex = cellToParent(String(value), MAP_HEX_RES);
    return `${esc(value)} (<a href="#/hex/${hex}">hex ${hex}</a>)`;
  }
  return esc(value);
}

function kv(obj) {
  return `<table>${Object.entries(obj).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${cell(k, v)}</td></tr>`).join("")}</table>`;
}

function rows(headers, list) {
  return `<table><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join("")}</tr>${list.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("")}</table>`;
}

function fail(e) {
  page.innerHTML = `<p class="error">${esc(e.message)}</p>`;
}

// Hex scale (0..1) to a colour: red (crowded, scaled down) to green (full reward).
function scaleColour(s) {
  const x = Math.max(0, Math.min(1, Number(s)));
  const r = Math.round(220 - 180 * x), g = Math.round(60 + 140 * x);
  return `rgb(${r},${g},70)`;
}

function hexFeature(h) {
  const ring = cellToBoundary(h.hex, true);
  return { type: "Feature", properties: { hex: h.hex, hotspots: h.hotspots, scale: Number(h.scale), colour: scaleColour(h.scale) }, geometry: { type: "Polygon", coordinates: [ring] } };
}

function hotspotFeature(h) {
  return { type: "Feature", properties: { device: h.device, scale: Number(h.scale) }, geometry: { type: "Point", coordinates: [h.lng, h.lat] } };
}

function mapStyle(land) {
  return {
    version: 8,
    sources: { land: { type: "geojson", data: land } },
    layers: [
      { id: "water", type: "background", paint: { "background-color": "#a9c8e8" } },
      { id: "land", type: "fill", source: "land", paint: { "fill-color": "#ece8dc", "fill-outline-color": "#9aa3ad" } },
    ],
  };
}

function bounds(hotspots) {
  const b = new maplibregl.LngLatBounds();
  hotspots.forEach((h) => b.extend([h.lng, h.lat]));
  return b;
}

function addCoverage(map, view) {
  map.addSource("hexes", { type: "geojson", data: { type: "FeatureCollection", features: view.hexes.map(hexFeature) } });
  map.addSource("hotspots", { type: "geojson", data: { type: "FeatureCollection", features: view.hotspots.filter((h) => h.lat !== null).map(hotspotFeature) } });
  map.addLayer({ id: "hexes", type: "fill", source: "hexes", paint: { "fill-color": ["get", "colour"], "fill-opacity": 0.6, "fill-outline-color": "#333" } });
  map.addLayer({ id: "hotspots", type: "circle", source: "hotspots", paint: { "circle-radius": 3, "circle-color": "#14213d" } });
  map.on("click", "hexes", (e) => { location.hash = `#/hex/${e.features[0].properties.hex}`; });
  map.on("click", "hotspots", (e) => { location.hash = `#/device/${e.features[0].properties.device}`; });
  if (view.hotspots.length > 0) map.fitBounds(bounds(view.hotspots), { padding: 40, duration: 0 });
  map.once("idle", () => {
    const drawn = map.queryRenderedFeatures({ layers: ["hexes"] }).length;
    document.getElementById("map").dataset.renderedHexes = String(drawn);
  });
}

async function mapPage() {
  page.innerHTML = `<div class="map-layout"><div id="map"></div><div class="side" id="side">loading coverage…</div></div>`;
  const [topo, view] = await Promise.all([api("/explorer/land.json"), api("/v1/coverage/hexes")]);
  const land = feature(topo, topo.objects.land);
  const side = document.getElementById("side");
  const legend = [0, 0.25, 0.5, 0.75, 1].map((s) => `<div><span style="background:${scaleColour(s)}"></span>scale ${s}</div>`).join("");
  side.innerHTML = `<h2>Coverage</h2><p>${view.hotspots.length} hotspots in ${view.hexes.length} res-${MAP_HEX_RES} hexes (height ${view.height}).</p><h2>HIP-17 hex scale</h2><div class="legend">${legend}</div><p>Click a hex or a hotspot.</p>`;
  const map = new maplibregl.Map({ container: "map", style: mapStyle(land), center: [0, 20], zoom: 1, attributionControl: false, preserveDrawingBuffer: true });
  map.on("load", () => addCoverage(map, view));
}

function chart(points) {
  const w = 640, h = 160, pad = 24;
  const max = points.reduce((m, p) => (p.value > m ? p.value : m), 0n) || 1n;
  const bw = (w - 2 * pad) / Math.max(points.length, 1);
  const bars = points.map((p, i) => {
    const bh = Number((p.value * BigInt(h - 2 * pad)) / max);
    const x = pad + i * bw;
    return `<rect x="${x + 1}" y="${h - pad - bh}" width="${Math.max(bw - 2, 1)}" height="${bh}"><title>epoch ${p.epoch}: ${tokens(p.value)} tokens</title></rect><text x="${x + 2}" y="${h - 8}">${p.epoch}</text>`;
  }).join("");
  return `<svg class="chart" id="rewards-chart" width="${w}" height="${h}" role="img" aria-label="rewards per epoch">${bars}</svg>`;
}

async function devicePage(address) {
  const d = await api(`/v1/devices/${address}`);
  page.innerHTML = `<h1>Device ${esc(address)}</h1>${kv(d)}<h2>Rewards per epoch</h2><div id="rewards">loading…</div>`;
  let settled = [];
  try { settled = (await api(`${ORACLE}/epochs`)).settled.slice(-CHART_EPOCHS); } catch (e) { document.getElementById("rewards").textContent = e.message; return; }
  const epochs = await Promise.all(settled.map((e) => api(`${ORACLE}/epochs/${e}/devices/${address}`).catch(() => null)));
  const found = epochs.filter((e) => e !== null);
  const points = found.map((e) => ({ epoch: e.epoch, value: BigInt(e.reward_bones) }));
  const total = points.reduce((s, p) => s + p.value, 0n);
  const history = rows(["epoch", "reports", "verdicts by reason", "reward"], found.map((e) => [
    `<a href="#/epoch/${e.epoch}">${e.epoch}</a>`, e.reports,
    esc(Object.entries(e.verdicts).map(([k, v]) => `${k}: ${v}`).join(", ")), `${tokens(e.reward_bones)}`,
  ]));
  document.getElementById("rewards").innerHTML = `<p id="rewards-total" data-bones="${total}">${tokens(total.toString())} tokens over ${found.length} epochs</p>${chart(points)}<h2>Verdict history</h2>${history}`;
}

async function hexPage(hex) {
  const view = await api("/v1/coverage/hexes");
  const here = view.hotspots.filter((h) => h.location && cellToParent(h.location, getResolution(hex)) === hex);
  const info = view.hexes.find((h) => h.hex === hex) || { hex, hotspots: here.length };
  page.innerHTML = `<h1>Hex ${esc(hex)}</h1>${kv(info)}<h2>Hotspots</h2>${rows(["device", "location", "scale"], here.map((h) => [
    `<a href="#/device/${h.device}">${esc(h.device)}</a>`, esc(h.location), esc(h.scale),
  ]))}`;
}

async function ownedDevices(owner) {
  const out = [];
  let after = null;
  for (let i = 0; i < OWNER_SCAN_PAGES; i++) {
    const p = await api(`/v1/devices${after ? `?after=${after}` : ""}`);
    out.push(...p.devices.filter((d) => d.owner === owner));
    if (!p.next) break;
    after = p.next;
  }
  return out;
}

async function accountPage(address) {
  const a = await api(`/v1/accounts/${address}`);
  page.innerHTML = `<h1 id="account-title">Account ${esc(address)}</h1>${kv(a)}<h2>Devices owned</h2><div id="owned">loading…</div>`;
  const owned = await ownedDevices(a.address);
  document.getElementById("owned").innerHTML = rows(["device", "class", "status"], owned.map((d) => [
    `<a href="#/device/${d.address}">${esc(d.address)}</a>`, esc(d.class), esc(d.status),
  ]));
}

async function blockPage(id) {
  const b = await api(`/v1/blocks/${id}`);
  const txs = b.tx_ids.map((t) => [`<a href="#/tx/${t}">${esc(t)}</a>`]);
  page.innerHTML = `<h1>Block ${b.height}</h1>${kv({ ...b, tx_ids: b.tx_ids.length })}<h2>Transactions</h2>${rows(["id"], txs)}`;
}

async function txPage(id) {
  const t = await api(`/v1/txs/${id}`);
  page.innerHTML = `<h1>Transaction ${esc(id)}</h1>${kv(t)}`;
}

async function blocksPage() {
  const c = await api("/v1/chain");
  const heights = [];
  for (let h = c.height; h > 0 && heights.length < RECENT_BLOCKS; h--) heights.push(h);
  const blocks = await Promise.all(heights.map((h) => api(`/v1/blocks/${h}`)));
  page.innerHTML = `<h1>Latest blocks</h1>${rows(["height", "hash", "transactions", "time"], blocks.map((b) => [
    `<a href="#/block/${b.height}">${b.height}</a>`, esc(b.hash), b.tx_ids.length, new Date(b.time_ms).toISOString(),
  ]))}`;
}

async function epochsPage() {
  const e = await api(`${ORACLE}/epochs`);
  const list = [...e.settled].reverse().map((n) => [`<a href="#/epoch/${n}">${n}</a>`]);
  page.innerHTML = `<h1>Settled epochs</h1>${rows(["epoch"], list)}`;
}

async function epochPage(epoch) {
  const [m, r] = await Promise.all([api(`${ORACLE}/epochs/${epoch}/manifest`), api(`/v1/rewards/${epoch}`).catch(() => ({}))]);
  const pools = rows(["module", "weight", "pool", "paid", "shares"], m.pools.map((p) => [esc(p.module), p.weight, tokens(p.pool_bones), tokens(p.paid_bones), esc(p.shares_total)]));
  const counts = rows(["reason", "reports"], Object.entries(m.verdict_counts).map(([k, v]) => [esc(k), v]));
  const top = [...m.devices].sort((a, b) => (BigInt(b.reward_bones) > BigInt(a.reward_bones) ? 1 : -1)).slice(0, 20);
  const devices = rows(["device", "module", "reward"], top.map((d) => [`<a href="#/device/${d.device}">${esc(d.device)}</a>`, esc(d.module), tokens(d.reward_bones)]));
  const summary = { epoch: m.epoch, reports: m.reports, emission_bones: m.emission_bones, remainder_bones: m.remainder_bones, root: m.root, inputs_digest: m.inputs_digest, on_chain_root: r.root, effective_height: r.effective_height, attestations: (r.attestations || []).length };
  page.innerHTML = `<h1>Epoch ${esc(epoch)}</h1>${kv(summary)}<h2>Pools</h2>${pools}<h2>Verdicts by reason</h2>${counts}<h2>Top devices</h2>${devices}`;
}

// A search: block height, 64-hex block or transaction id, H3 hex, or an address (device
// first, then account).
async function search(q) {
  q = q.trim();
  if (/^\d+$/.test(q)) return `#/block/${q}`;
  if (isValidCell(q)) return `#/hex/${q}`;
  if (/^[0-9a-f]{64}$/i.test(q)) {
    try { await api(`/v1/txs/${q}`); return `#/tx/${q}`; } catch (_) { return `#/block/${q}`; }
  }
  try { await api(`/v1/devices/${q}`); return `#/device/${q}`; } catch (_) { return `#/account/${q}`; }
}

const ROUTES = { device: devicePage, hex: hexPage, account: accountPage, block: blockPage, tx: txPage, epoch: epochPage };

async function route() {
  const [, name, arg] = location.hash.split("/");
  try {
    if (name === "search") { location.hash = await search(decodeURIComponent(arg || "")); return; }
    if (name === "blocks") return await blocksPage();
    if (name === "epochs") return await epochsPage();
    if (ROUTES[name] && arg) return await ROUTES[name](decodeURIComponent(arg));
    return await mapPage();
  } catch (e) { fail(e); }
}

async function chainLine() {
  try {
    const c = await api("/v1/chain");
    document.getElementById("chain").textContent = `${c.chain_id} · height ${c.height}`;
  } catch (_) { /* node restarting */ }
}

document.getElementById("search-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  location.hash = await search(document.getElementById("search").value);
});
window.addEventListener("hashchange", route);
route();
chainLine();
setInterval(chainLine, 5000);
