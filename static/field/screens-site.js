// Screens for checklist work: my sites, a site by category or by room, and one item.
import * as store from "./store.js";
import * as sync from "./sync.js";
import { loadSite, overlayAssets, overlayItems, photosFor, progress, readingProblem, reasonOf, reasonText, siteStates,
  thresholdText } from "./model.js";
import { capture, photoButton, thumbnails } from "./photos.js";
import { ago, day, daysTo, html, plural, statusLabel, verdict } from "./ui.js";

const opened = new Set(); // which groups are open, so a re-render after a sync does not fold them

export async function mySites(_, app) {
  const [sites, outbox, items, photos, assets] = await Promise.all([store.all("sites"), store.all("outbox"),
    store.all("items"), store.all("photos"), store.all("assets")]);
  const visible = sites.filter((s) => !s.gone || outbox.some((r) => r.site_id === s.id))
    .sort((a, b) => (a.move_in || "").localeCompare(b.move_in || ""));
  const cards = visible.map((site) => {
    const changes = outbox.filter((r) => r.site_id === site.id);
    const mine = overlayItems(items.filter((i) => i.site_id === site.id), changes); // as the site screen counts
    const p = progress(mine, siteStates(site, mine, photos.filter((ph) => ph.site_id === site.id),
      overlayAssets(assets.filter((a) => a.site_id === site.id), changes, site.id)));
    const waiting = changes.length + photos.filter((ph) => ph.blob && ph.site_id === site.id).length;
    return html`<li><a class="card site-card status-${(site.status || "").toLowerCase()}" href="/field/sites/${site.id}">
      <span class="site-card-head">${verdict(site.status)}<b class="site-name">${site.name}</b></span>
      <span class="muted">${site.client} · move-in ${day(site.move_in)} (${daysTo(site.move_in)})</span>
      <span class="site-facts">
        <span><b>${site.score ?? "–"}</b> score</span>
        ${site.bundled ? html`<span><b>${p.done}/${p.total}</b> done</span>` : ""}
        ${p.failed ? html`<span class="bad"><b>${p.failed}</b> failed</span>` : ""}
        ${site.disputed ? html`<span class="dispute-text"><b>${site.disputed}</b> disputed</span>` : ""}
      </span>
      ${waiting ? html`<span class="chip warn">${plural(waiting, "change")} waiting</span>` : ""}
      ${site.bundled ? "" : html`<span class="chip">opens when online, then kept on this phone</span>`}
      ${site.gone ? html`<span class="chip warn">no longer assigned to you</span>` : ""}
    </a></li>`;
  });
  const empty = app.state.online
    ? html`<p>No sites are assigned to you yet. A project manager assigns technicians on the site page.</p>`
    : html`<p>Nothing is stored on this phone yet. Connect to the internet once to download your sites.</p>`;
  return {
    title: "My sites",
    html: html`<h1>My sites</h1>
      <p class="muted small">Readiness as last synced${app.state.lastSynced ? ` (${ago(app.state.lastSynced)})` : ""}.</p>
      ${cards.length ? html`<ul class="plain-list">${cards}</ul>` : html`<section class="card">${empty}</section>`}`,
  };
}

function itemRow(item, state) {
  const flags = [];
  const photos = reasonOf(state, "photos_missing");
  const waiting = reasonOf(state, "waiting_for");
  if (item.room) flags.push(html`<span class="room">${item.room}</span>`);
  if (item.severity === "blocker") flags.push(html`<span class="sev">blocker</span>`);
  if (reasonOf(state, "out_of_range")) flags.push(html`<span class="bad">out of threshold</span>`);
  if (item.status === "pass" && photos) flags.push(html`<span class="warn">${plural(photos.count, "photo")} missing</span>`);
  if (waiting) flags.push(html`<span class="muted">waiting for ${waiting.ids.length}</span>`);
  if (item.pending) flags.push(html`<span class="pending">${item.attention ? "needs attention" : "not synced"}</span>`);
  return html`<li><a class="row" href="/field/sites/${item.site_id}/items/${item.id}">
    <span class="status status-${item.status}${item.disputed ? " status-disputed" : ""}">${statusLabel(item.status, item.disputed)}</span>
    <span class="row-body"><span class="row-title">${item.title}</span>
      ${flags.length ? html`<span class="row-flags">${flags}</span>` : ""}</span></a></li>`;
}

export async function siteOverview({ siteId }, app) {
  const id = Number(siteId);
  let data = await loadSite(id);
  if ((!data || !data.site.bundled) && app.state.online) {
    try {
      await sync.downloadBundle(id);
      data = await loadSite(id);
    } catch (error) {
      return { title: "Site", html: html`<p class="flash flash-error">This site could not be downloaded: ${error.reason || error.message}</p>` };
    }
  }
  if (!data || !data.site.bundled) {
    return { title: "Site", html: html`<section class="card"><h1>Not on this phone</h1>
      <p>This site has not been downloaded to this phone. Open it once while online; after that it works with no signal.</p>
      <a class="button" href="/field/">My sites</a></section>` };
  }
  const { site, items, assets, photos } = data;
  const by = new URLSearchParams(location.search).get("by") === "room" ? "room" : "category";
  const states = siteStates(site, items, photos, assets);
  const groups = new Map();
  for (const item of items) {
    const key = by === "room" ? item.room || "Whole site" : item.category;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(item);
  }
  const p = progress(items, states);
  const waiting = items.reduce((n, i) => n + (i.pending || 0), 0);
  const sections = [...groups].map(([name, members]) => {
    const g = progress(members, states);
    const key = `${site.id}:${by}:${name}`;
    const open = opened.has(key) || groups.size <= 2;
    return html`<details class="card group" data-group="${key}" ${open ? "open" : ""}>
      <summary><span class="group-name">${name}</span>
        <span class="group-count">${g.done}/${g.total}${g.failed ? html` · <b class="bad">${g.failed} failed</b>` : ""}</span></summary>
      <ul class="rows">${members.map((item) => itemRow(item, states.get(item.id)))}</ul></details>`;
  });
  const tab = (value, label) => html`<a class="tab" href="/field/sites/${site.id}${value === "room" ? "?by=room" : ""}"
    ${by === value ? html`aria-current="page"` : ""}>${label}</a>`;
  return {
    title: site.name,
    html: html`<nav class="crumbs"><a href="/field/">← My sites</a></nav>
      <h1>${site.name}</h1>
      <p class="muted">${site.address ? `${site.address} · ` : ""}move-in ${day(site.move_in)} (${daysTo(site.move_in)})</p>
      <section class="card verdict-card status-${(site.status || "").toLowerCase()}">
        <p class="verdict-line">${verdict(site.status)} <span class="score-now"><b>${site.score ?? "–"}</b>/100</span>
          <span class="muted small">as of the last sync${app.state.lastSynced ? `, ${ago(app.state.lastSynced)}` : ""}</span></p>
        <p class="site-progress"><b>${p.done} of ${p.total}</b> done${p.failed ? html` · <b class="bad">${p.failed} failed</b>` : ""}${p.disputed ? html` · <b class="dispute-text">${p.disputed} disputed</b>` : ""}${waiting ? html` · <b class="warn">${plural(waiting, "change")} not synced</b>` : ""}</p>
        ${site.summary ? html`<details class="more"><summary>Why</summary><p>${site.summary}</p></details>` : ""}
      </section>
      <nav class="tabs" aria-label="View">${tab("category", "By category")}${tab("room", "By room")}
        <a class="tab" href="/field/sites/${site.id}/assets">Assets (${assets.length})</a></nav>
      ${sections}`,
    toggle: (el) => (el.open ? opened.add(el.dataset.group) : opened.delete(el.dataset.group)),
  };
}

function measurementField(item, name, rule) {
  const value = item.measurements?.[name];
  const problem = readingProblem(value, rule);
  return html`<div class="measure">
    <label for="m-${name}">${rule.label || name}</label>
    <p class="hint" id="h-${name}">${thresholdText(rule)}</p>
    <div class="measure-input"><input id="m-${name}" name="${name}" type="number" step="any" inputmode="decimal"
      value="${value ?? ""}" data-input="measure" data-change="measure" aria-describedby="h-${name} e-${name}"
      class="${problem ? "invalid" : ""}" aria-invalid="${problem ? "true" : "false"}">
      ${rule.unit ? html`<span class="unit">${rule.unit}</span>` : ""}</div>
    <p class="field-error" id="e-${name}" ${problem ? "" : "hidden"}>${problem ? `Out of threshold: ${problem}` : ""}</p>
  </div>`;
}

// Whether the item counts as ready and, if not, every reason: the server's words while the phone agrees with it.
function readinessNow(item, state, byId) {
  if (!state.applicable) return "";
  if (state.ready) return html`<p class="readiness-now ready"><b>Ready:</b> it counts towards go-live.</p>`;
  return html`<section class="card readiness-now" aria-labelledby="why-h"><h2 id="why-h">Not ready yet</h2>
    <ul class="reasons">${state.reasons.map((reason) => html`<li>${reasonText(reason, item, byId)}</li>`)}</ul>
    <p class="muted small">${state.server ? "As the server worked it out at the last sync." : "As this phone works it out, changes not synced included."}</p></section>`;
}

export async function itemScreen({ siteId, itemId }, app) {
  const data = await loadSite(Number(siteId));
  const item = data && data.items.find((i) => i.id === Number(itemId));
  if (!item) return { title: "Item", html: html`<section class="card"><h1>Not on this phone</h1><p>This item is not in the sites stored here.</p><a class="button" href="/field/">My sites</a></section>` };
  const byId = new Map(data.items.map((i) => [i.id, i]));
  const state = siteStates(data.site, data.items, data.photos, data.assets).get(item.id);
  const waitingFor = (reasonOf(state, "waiting_for")?.ids || []).map((id) => byId.get(id));
  const index = data.items.indexOf(item);
  const next = data.items[index + 1];
  const previous = data.items[index - 1];
  const photos = photosFor(data.photos, "item_id", item.id);
  const button = (value, label) => html`<button type="button" class="big status-${value}" data-action="status" data-value="${value}"
    aria-pressed="${item.status === value ? "true" : "false"}">${label}</button>`;

  async function record(set) {
    await store.enqueue({ id: store.uuid(), type: "item.update", item_id: item.id, base_rev: item.rev, set }, item.site_id);
    await sync.recorded();
  }
  const noteBox = () => document.getElementById("note");
  const noteProblem = (text) => {
    const box = document.getElementById("note-error");
    box.textContent = text;
    box.hidden = !text;
  };

  return {
    title: item.title,
    html: html`<nav class="crumbs"><a href="/field/sites/${item.site_id}">← ${data.site.name}</a></nav>
      <h1>${item.title}</h1>
      <p class="chips">${item.severity === "blocker" ? html`<span class="sev">blocker</span>` : html`<span class="chip">${item.severity}</span>`}
        ${item.room ? html`<span class="room">${item.room}</span>` : ""}<span class="chip">${item.category}</span>
        ${item.due ? html`<span class="chip">due ${day(item.due)}</span>` : ""}</p>
      ${item.disputed ? html`<p class="flash flash-dispute" role="alert"><b>Disputed.</b> Two people reported different results for this item. It does not count as ready until a project manager decides on the site page.</p>` : ""}
      ${item.attention ? html`<p class="flash flash-error" role="alert"><b>Needs attention:</b> the server refused a change: ${item.attention.message.replace(/\.$/, "")}. <a href="/field/changes">See waiting changes</a></p>` : ""}
      <p class="status-now">Now: <span class="status status-${item.status}">${statusLabel(item.status)}</span>
        ${item.pending ? html`<span class="pending">saved on this phone, not synced yet</span>` : ""}</p>
      <div class="big-buttons" role="group" aria-label="Result">${button("pass", "Pass")}${button("fail", "Fail")}${button("na", "N/A")}</div>
      ${item.status === "fail" && !item.note ? html`<p class="hint">Say what is wrong in the note, so the next person knows.</p>` : ""}
      ${item.status === "pass" && reasonOf(state, "out_of_range") ? html`<p class="field-error">Counts as failed: a reading is out of threshold.</p>` : ""}
      ${waitingFor.length ? html`<p class="waiting"><b>Waiting for:</b> ${waitingFor.map((dep, i) => html`${i ? ", " : ""}<a href="/field/sites/${dep.site_id}/items/${dep.id}">${dep.title}${dep.room ? ` (${dep.room})` : ""}</a> <span class="muted">(${statusLabel(dep.status, dep.disputed)})</span>`)}</p>` : ""}
      ${readinessNow(item, state, byId)}
      ${Object.keys(item.thresholds || {}).length ? html`<section class="card"><h2>Measurements</h2>
        ${Object.entries(item.thresholds).map(([name, rule]) => measurementField(item, name, rule))}</section>` : ""}
      <section class="card"><h2><label for="note">Note</label></h2>
        <textarea id="note" data-change="note" maxlength="5000" placeholder="What you found, what is missing, who to chase">${item.note}</textarea>
        <p class="field-error" id="note-error" hidden></p>
        <button type="button" class="button" data-action="note">Save note</button></section>
      <section class="card"><h2>Photos <span class="count ${reasonOf(state, "photos_missing") ? "warn" : ""}">${item.photos_required
          ? `${photos.length} of ${item.photos_required} required` : `${photos.length} · none required`}</span></h2>
        ${thumbnails(photos)}${photoButton()}</section>
      ${item.guidance ? html`<details class="card more" open><summary>How to check</summary><p>${item.guidance}</p></details>` : ""}
      <nav class="pager">${previous ? html`<a class="button" href="/field/sites/${item.site_id}/items/${previous.id}">← Previous</a>` : html`<span></span>`}
        ${next ? html`<a class="button primary" href="/field/sites/${item.site_id}/items/${next.id}">Next item →</a>` : ""}</nav>`,
    actions: {
      async status(el) {
        const status = el.dataset.value;
        const typed = noteBox().value.trim();
        if (status === "na" && !typed) {
          noteProblem("Write why this item does not apply, then tap N/A again.");
          noteBox().focus();
          return;
        }
        const set = { status };
        if (typed !== item.note) set.note = typed;
        if (status !== item.status || set.note !== undefined) await record(set);
      },
      async note() {
        const typed = noteBox().value.trim();
        if (item.status === "na" && !typed) return noteProblem("An item marked N/A needs a reason.");
        if (typed !== item.note) await record({ note: typed });
      },
    },
    change: {
      async note(el) { // leaving the field saves it too: closing the app must not lose what was typed
        const typed = el.value.trim();
        if (item.status === "na" && !typed) return noteProblem("An item marked N/A needs a reason.");
        if (typed !== item.note) await record({ note: typed });
      },
      async measure(el) {
        const value = el.value.trim() === "" ? null : Number(el.value);
        if (value !== null && !Number.isFinite(value)) return;
        if ((item.measurements?.[el.name] ?? null) === value) return;
        await record({ measurements: { [el.name]: value } });
      },
      async photo(el) {
        const files = [...el.files];
        if (!files.length) return;
        try {
          await capture(files, { site_id: item.site_id, item_id: item.id });
        } finally {
          await sync.recorded(); // the photos that were kept show, and go
        }
      },
    },
    input: {
      measure(el) {
        const problem = readingProblem(el.value, item.thresholds[el.name]);
        el.classList.toggle("invalid", Boolean(problem));
        el.setAttribute("aria-invalid", problem ? "true" : "false");
        const box = document.getElementById(`e-${el.name}`);
        box.textContent = problem ? `Out of threshold: ${problem}` : "";
        box.hidden = !problem;
      },
    },
  };
}
