// Screens for hardware: a site's assets, one asset (what a QR label opens), add/edit, and scanning.
import * as store from "./store.js";
import * as sync from "./sync.js";
import { ASSET_KINDS, ASSET_STATUSES, loadSite, overlayAssets, photosFor } from "./model.js";
import { capture, photoButton, thumbnails } from "./photos.js";
import { go } from "./router.js";
import { html, plural } from "./ui.js";

const notHere = (text) => ({ title: "Asset", html: html`<section class="card"><h1>Not on this phone</h1><p>${text}</p>
  <a class="button" href="/field/scan">Scan or type a tag</a></section>` });

export async function assetList({ siteId }) {
  const data = await loadSite(Number(siteId));
  if (!data) return notHere("This site is not stored on this phone.");
  const rooms = new Map();
  for (const asset of data.assets) {
    const room = asset.room || "No room yet";
    if (!rooms.has(room)) rooms.set(room, []);
    rooms.get(room).push(asset);
  }
  return {
    title: `Assets · ${data.site.name}`,
    html: html`<nav class="crumbs"><a href="/field/sites/${data.site.id}">← ${data.site.name}</a></nav>
      <h1>Assets</h1>
      <div class="actions-row"><a class="button primary" href="/field/sites/${data.site.id}/assets/new">Add asset</a>
        <a class="button" href="/field/scan">Scan tag</a></div>
      ${data.assets.length ? [...rooms].map(([room, assets]) => html`<section class="card"><h2>${room}</h2>
        <ul class="rows">${assets.map(assetRow)}</ul></section>`)
        : html`<section class="card"><p>No hardware recorded yet. Add each switch, access point, printer… and stick its QR label on it.</p></section>`}`,
  };
}

function assetRow(asset) {
  return html`<li><a class="row" href="${asset.tag ? `/t/${encodeURIComponent(asset.tag)}` : `/field/assets/${asset.id}`}">
    <span class="status asset-${asset.status}">${asset.status}</span>
    <span class="row-body"><span class="row-title"><span class="tag">${asset.tag || "no tag yet"}</span> ${asset.kind}</span>
      <span class="row-flags">${[asset.make, asset.model].filter(Boolean).join(" ") || "make and model not recorded"}
        ${asset.pending ? html`<span class="pending">${asset.attention ? "needs attention" : "not synced"}</span>` : ""}</span></span></a></li>`;
}

async function findAsset(test) {
  const [assets, outbox] = await Promise.all([store.all("assets"), store.all("outbox")]);
  return overlayAssets(assets, outbox).find(test) || null;
}

export async function assetByTag({ tag }, app) {
  const find = () => findAsset((a) => a.tag && tagFrom(a.tag) === tagFrom(tag));
  let asset = await find();
  if (!asset && app.state.online) {
    // A label from a site this phone does not hold yet: fetch that site, then show the asset from it.
    const found = await fetch(`/api/assets/${encodeURIComponent(tag)}`, { headers: { Accept: "application/json" },
      signal: AbortSignal.timeout(sync.settings.timeout) }).then((r) => (r.ok ? r.json() : null)).catch(() => null);
    if (found && Number.isInteger(found.site_id)) {
      await sync.downloadBundle(found.site_id).catch(() => null);
      asset = await find();
    }
  }
  return assetScreen(asset, app, tag);
}
export const assetById = async ({ assetId }, app) => assetScreen(await findAsset((a) => a.id === assetId), app);

async function assetScreen(asset, app, tag = null) {
  if (!asset) {
    const sites = (await store.all("sites")).filter((s) => s.bundled);
    return { title: `Tag ${tag}`, html: html`<section class="card"><h1>Tag <span class="tag">${tag}</span></h1>
      <p>No asset with this tag is stored on this phone${app.state.online ? "" : " (you are offline)"}.</p>
      ${sites.length ? html`<p>Add it now, on one of your sites:</p><ul class="plain-list">${sites.map((s) => html`<li>
        <a class="button wide" href="/field/sites/${s.id}/assets/new?tag=${encodeURIComponent(tag)}">Add to ${s.name}</a></li>`)}</ul>` : ""}
      <a class="button" href="/field/scan">Scan another tag</a></section>` };
  }
  const data = await loadSite(asset.site_id);
  const item = data && asset.item_id ? data.items.find((i) => i.id === asset.item_id) : null;
  const photos = data ? photosFor(data.photos, "asset_id", asset.id) : [];
  const step = (status) => html`<button type="button" class="step" data-action="status" data-value="${status}"
    aria-pressed="${asset.status === status ? "true" : "false"}">${status}</button>`;
  const record = async (set) => {
    await store.enqueue({ id: store.uuid(), type: "asset.upsert", asset_id: asset.id, site_id: asset.site_id,
      set: { kind: asset.kind, ...set } }, asset.site_id);
    await sync.recorded();
  };
  return {
    title: asset.tag || "New asset",
    html: html`<nav class="crumbs"><a href="/field/sites/${asset.site_id}/assets">← ${data ? data.site.name : "Site"} assets</a></nav>
      <h1><span class="tag big-tag">${asset.tag || "no tag yet"}</span> ${asset.kind}</h1>
      ${asset.attention ? html`<p class="flash flash-error" role="alert"><b>Needs attention:</b> ${asset.attention.message.replace(/\.$/, "")}. <a href="/field/changes">See waiting changes</a></p>`
        : asset.pending ? html`<p class="pending">Saved on this phone, not synced yet${asset.tag ? "" : "; the server gives it a tag when none was typed"}.</p>` : ""}
      <div class="steps" role="group" aria-label="Status">${ASSET_STATUSES.map(step)}</div>
      <section class="card"><dl class="pairs">
        <dt>Make</dt><dd>${asset.make || "–"}</dd><dt>Model</dt><dd>${asset.model || "–"}</dd>
        <dt>Serial</dt><dd>${asset.serial || "–"}</dd><dt>MAC</dt><dd>${asset.mac || "–"}</dd>
        <dt>Room</dt><dd>${asset.room || "–"}</dd>
        <dt>For item</dt><dd>${item ? html`<a href="/field/sites/${item.site_id}/items/${item.id}">${item.title}${item.room ? ` (${item.room})` : ""}</a>` : "–"}</dd>
      </dl><a class="button wide" href="/field/assets/${asset.id}/edit">Edit details</a></section>
      <section class="card"><h2>Photos <span class="count">${plural(photos.length, "photo")}</span></h2>${thumbnails(photos)}${photoButton()}</section>`,
    actions: { status: (el) => (el.dataset.value !== asset.status ? record({ status: el.dataset.value }) : null) },
    change: {
      async photo(el) {
        if (!el.files.length) return;
        try {
          await capture([...el.files], { site_id: asset.site_id, asset_id: asset.id, item_id: asset.item_id || null });
        } finally {
          await sync.recorded(); // the photos that were kept show, and go
        }
      },
    },
  };
}

const FIELDS = ["kind", "tag", "make", "model", "serial", "mac", "room", "status", "item_id"];

export async function assetForm({ siteId, assetId }) {
  const existing = assetId ? await findAsset((a) => a.id === assetId) : null;
  if (assetId && !existing) return notHere("This asset is not stored on this phone.");
  const site = Number(siteId || existing.site_id);
  const data = await loadSite(site);
  if (!data) return notHere("This site is not stored on this phone.");
  const query = new URLSearchParams(location.search);
  const asset = existing || { kind: "switch", tag: query.get("tag") || "", make: "", model: "", serial: "", mac: "",
    room: "", status: "received", item_id: query.get("item") ? Number(query.get("item")) : null };
  const option = (value, label, current) => html`<option value="${value}" ${String(current ?? "") === String(value) ? "selected" : ""}>${label}</option>`;
  const text = (name, label, extra = "") => html`<label for="a-${name}">${label}</label>
    <input id="a-${name}" name="${name}" value="${asset[name] || ""}" maxlength="120" autocomplete="off" ${extra}>`;
  return {
    title: existing ? "Edit asset" : "Add asset",
    html: html`<nav class="crumbs"><a href="/field/sites/${site}/assets">← ${data.site.name} assets</a></nav>
      <h1>${existing ? "Edit asset" : "Add asset"}</h1>
      <form class="card asset-form" data-submit="save" novalidate>
        <label for="a-kind">Kind</label><select id="a-kind" name="kind">${ASSET_KINDS.map((k) => option(k, k, asset.kind))}</select>
        ${text("tag", "Tag on its QR label", existing && existing.tag && !existing.local ? html`readonly` : html`placeholder="leave empty: the server assigns one" autocapitalize="characters"`)}
        <p class="field-error" id="tag-error" role="alert"></p>
        ${text("make", "Make")}${text("model", "Model")}${text("serial", "Serial number", html`autocapitalize="characters"`)}
        ${text("mac", "MAC address", html`placeholder="00:1A:2B:3C:4D:5E" autocapitalize="characters"`)}
        <p class="field-error" id="mac-error" hidden>A MAC address is six pairs of hex digits, like 00:1A:2B:3C:4D:5E.</p>
        <label for="a-room">Room</label><select id="a-room" name="room">${option("", "—", asset.room)}${(data.site.rooms || []).map((r) => option(r, r, asset.room))}</select>
        <label for="a-status">Status</label><select id="a-status" name="status">${ASSET_STATUSES.map((s) => option(s, s, asset.status))}</select>
        <label for="a-item">For checklist item</label><select id="a-item" name="item_id">${option("", "—", asset.item_id)}
          ${data.items.filter((i) => i.asset_kind || i.id === asset.item_id).map((i) => option(i.id, `${i.title}${i.room ? ` (${i.room})` : ""}`, asset.item_id))}</select>
        <button class="button primary wide" type="submit">Save</button></form>`,
    submit: {
      async save(form) {
        const values = Object.fromEntries(new FormData(form));
        const mac = (values.mac || "").trim().toUpperCase().replace(/-/g, ":");
        const macOk = !mac || /^([0-9A-F]{2}:){5}[0-9A-F]{2}$/.test(mac) || /^[0-9A-F]{12}$/.test(mac);
        document.getElementById("mac-error").hidden = macOk;
        if (!macOk) return document.getElementById("a-mac").focus();
        const typedTag = tagFrom(values.tag);
        const tagError = typedTag && !(existing && existing.tag === typedTag) ? tagProblem(typedTag) : "";
        document.getElementById("tag-error").textContent = tagError;
        if (tagError) return document.getElementById("a-tag").focus();
        const set = {};
        for (const name of FIELDS) {
          let value = name === "item_id" ? (values.item_id ? Number(values.item_id) : null) : (values[name] ?? "").trim();
          if (name === "mac") value = mac;
          if (name === "tag") value = tagFrom(value);
          if (!existing || name === "kind" || value !== (asset[name] ?? (name === "item_id" ? null : ""))) set[name] = value;
        }
        if (!set.tag) delete set.tag;
        const id = existing ? existing.id : store.uuid();
        await store.enqueue({ id: store.uuid(), type: "asset.upsert", asset_id: id, site_id: site, set }, site);
        await sync.recorded();
        go(set.tag || (existing && existing.tag) ? `/t/${encodeURIComponent(set.tag || existing.tag)}` : `/field/assets/${id}`, { replace: true });
      },
    },
  };
}

let stream = null;

export function stopCamera() {
  if (stream) stream.getTracks().forEach((t) => t.stop());
  stream = null;
}

// A label encodes <base URL>/t/<tag>; a bare tag typed or scanned works too (as fieldkit/tags.py reads it).
export function tagFrom(text) {
  const value = String(text || "").trim();
  const found = /\/t\/([^/?#\s]+)/.exec(value);
  return (found ? decodeURIComponent(found[1]) : value).replace(/[\s\-_.]+/g, "").toUpperCase();
}

// The same rule as fieldkit/tags.py, so a mistyped tag is caught with no signal: 6 characters plus a check
// character, over an alphabet without 0/O/1/I/L, with sum(position * value) a multiple of 31.
const ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
export function tagProblem(tag) {
  if (tag.length !== 7) return `Tags have 7 characters; "${tag}" has ${tag.length}.`;
  const wrong = [...new Set([...tag].filter((c) => !ALPHABET.includes(c)))];
  if (wrong.length) return `Tags never use ${wrong.join(", ")}${/[0O1IL]/.test(wrong.join("")) ? " (no 0, O, 1, I or L)" : ""}.`;
  const sum = [...tag].reduce((total, c, i) => total + (i + 1) * ALPHABET.indexOf(c), 0);
  return sum % 31 ? "The last (check) character does not match: a character was probably mistyped." : "";
}

export async function scan() {
  const camera = "BarcodeDetector" in self && navigator.mediaDevices && navigator.mediaDevices.getUserMedia;
  return {
    title: "Scan tag",
    html: html`<h1>Find an asset</h1>
      ${camera ? html`<section class="card"><button type="button" class="button primary wide" data-action="camera">Scan QR label with the camera</button>
        <video id="scanner" class="scanner" playsinline muted hidden></video><p class="hint" id="scan-hint"></p></section>` : ""}
      <form class="card" data-submit="typed"><label for="tag">Type the tag printed under the QR code</label>
        <input id="tag" name="tag" autocapitalize="characters" autocomplete="off" spellcheck="false" required placeholder="e.g. K7MX2QE" aria-describedby="tag-problem">
        <p class="field-error" id="tag-problem" role="alert"></p>
        <button class="button primary wide" type="submit">Open</button></form>
      ${camera ? "" : html`<p class="muted small">This browser cannot scan in the app; your phone's camera app opens FieldKit labels too.</p>`}`,
    submit: {
      typed: (form) => {
        const tag = tagFrom(form.tag.value);
        const problem = tag ? tagProblem(tag) : "";
        document.getElementById("tag-problem").textContent = problem;
        if (tag && !problem) go(`/t/${encodeURIComponent(tag)}`);
      },
    },
    actions: {
      async camera() {
        const video = document.getElementById("scanner");
        const hint = document.getElementById("scan-hint");
        try {
          stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
        } catch {
          hint.textContent = "The camera is not available: type the tag instead.";
          return;
        }
        video.srcObject = stream;
        video.hidden = false;
        await video.play();
        hint.textContent = "Point the camera at the QR label.";
        const detector = new BarcodeDetector({ formats: ["qr_code"] });
        const look = async () => {
          if (!stream) return;
          const codes = await detector.detect(video).catch(() => []);
          if (codes.length) {
            stopCamera();
            go(`/t/${encodeURIComponent(tagFrom(codes[0].rawValue))}`);
          } else setTimeout(look, 250);
        };
        look();
      },
    },
    leave: stopCamera,
  };
}
