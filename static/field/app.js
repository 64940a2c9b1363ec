// The FieldKit field app: finds out who is signed in, opens their data on this phone, and shows the
// screen the address names. Everything renders from IndexedDB, so it works the same with no signal.
import * as store from "./store.js";
import * as sync from "./sync.js";
import { go, match, route, start as startRouter } from "./router.js";
import { itemScreen, mySites, siteOverview } from "./screens-site.js";
import { releaseThumbnails } from "./photos.js";
import { ago, html, plural } from "./ui.js";

const USER_KEY = "fieldkit-user"; // who signed in last on this phone: opens their data with no signal
const DAY = 86_400_000;
const WHO_WAIT = 5000; // a sign-in check nobody answers must not keep the technician from their data
const main = document.getElementById("app");
const TYPING = "input:not([type=file]):not([type=checkbox]):not([type=radio]), textarea, select";
const bar = document.getElementById("syncbar");
const notice = document.getElementById("notice");
const app = { user: null, state: sync.state, render: () => render() };
let screen = null;
let renderLater = false;

// Checklist screens load with the app; the rest on first use (the service worker has them all cached).
const later = (load, name) => async (params, app) => (await load())[name](params, app);
const assets = () => import("./screens-assets.js");
const phone = () => import("./screens-phone.js");

route("/field", mySites);
route("/field/sites/:siteId", siteOverview);
route("/field/sites/:siteId/items/:itemId", itemScreen);
route("/field/sites/:siteId/assets", later(assets, "assetList"));
route("/field/sites/:siteId/assets/new", later(assets, "assetForm"));
route("/field/assets/:assetId", later(assets, "assetById"));
route("/field/assets/:assetId/edit", later(assets, "assetForm"));
route("/t/:tag", later(assets, "assetByTag"));
route("/field/scan", later(assets, "scan"));
route("/field/changes", later(phone, "changes"));
route("/field/phone", later(phone, "phone"));

async function render({ scroll = false } = {}) {
  const found = match(location.pathname);
  if (screen && screen.leave) screen.leave();
  const y = scrollY;
  releaseThumbnails();
  try {
    screen = found ? await found.screen(found.params, app)
      : { title: "Not found", html: html`<section class="card"><h1>Nothing here</h1><a class="button" href="/field/">My sites</a></section>` };
  } catch (error) {
    console.error(error);
    screen = { title: "Problem", html: html`<p class="flash flash-error">This screen could not be shown: ${error.message}</p>` };
  }
  main.innerHTML = screen.html.text;
  bindFileInputs(screen);
  document.title = `${screen.title} · FieldKit`;
  if (scroll) {
    notice.hidden = true; // a new screen: what went wrong on the last one no longer applies
    scrollTo(0, 0);
    main.focus({ preventScroll: true });
  } else scrollTo(0, y);
}

// A sync that lands while someone types must not wipe what they are typing: redraw once they leave the field.
function refresh() {
  const active = document.activeElement;
  if (active && main.contains(active) && active.matches(TYPING)) renderLater = true;
  else render();
}

main.addEventListener("focusout", () => setTimeout(() => {
  const active = document.activeElement;
  if (renderLater && !(active && main.contains(active) && active.matches(TYPING))) {
    renderLater = false;
    render();
  }
}));

// What went wrong, in the page where a thumb reaches it, until the technician has read it.
function tell(text) {
  document.getElementById("notice-text").textContent = text;
  notice.hidden = false;
}
notice.addEventListener("click", (event) => { if (event.target.closest("button")) notice.hidden = true; });

function run(act, el, event) {
  if (!act) return;
  event.preventDefault();
  Promise.resolve(act(el, event)).catch((error) => {
    if (error instanceof store.NotStored) return tell(error.message);
    console.error(error);
    tell(`That did not work: ${error.message}`);
  });
}

function handler(kind, attribute) {
  main.addEventListener(kind, (event) => {
    const el = event.target.closest(`[data-${attribute}]`);
    const group = el && screen && screen[kind === "click" ? "actions" : kind];
    if (group) run(group[el.dataset[attribute]], el, event);
  });
}

// The camera app can stay open for a while; if a sync redraws the screen meanwhile, the picked photo
// arrives on an input no longer in the page. Listening on the input itself still catches it.
function bindFileInputs(shown) {
  for (const input of main.querySelectorAll("input[type=file][data-change]")) {
    input.addEventListener("change", (event) => {
      event.stopPropagation();
      run(shown.change && shown.change[input.dataset.change], input, event);
    });
  }
}
handler("click", "action");
handler("change", "change");
handler("input", "input");
handler("submit", "submit");
main.addEventListener("toggle", (event) => screen && screen.toggle && screen.toggle(event.target), true);
main.addEventListener("error", (event) => { // a server thumbnail while offline: say where the photo is
  if (event.target.tagName === "IMG") event.target.replaceWith(Object.assign(document.createElement("span"), { className: "thumb-missing", textContent: "on the server" }));
}, true);

function drawBar(state) {
  const parts = [];
  let tone = "ok";
  let action = "";
  if (state.running) parts.push("syncing…");
  if (state.waiting) {
    parts.push(`${plural(state.waiting, "change")} waiting`);
    tone = "waiting";
  }
  parts.push(`last synced ${ago(state.lastSynced)}`);
  if (!state.online) {
    parts.push("offline");
    tone = state.waiting ? "waiting" : "offline";
  }
  // Nothing waiting means nothing to lose, with or without a signal: not even someone else's work.
  if (!state.waiting && !state.running && !(state.error && state.online) && !state.others.length) parts.push("safe to close");
  const notes = state.others.map((other) => html`<span class="syncbar-others">${sync.othersText(other)}</span>`);
  if (notes.length && tone === "ok") tone = "waiting";
  if (state.error && state.online) {
    notes.push(html`<span class="syncbar-attention">needs attention: ${state.error}</span>`);
    if (state.errorStatus === 401) action = html`<a class="button small" href="/login?next=${encodeURIComponent(location.pathname)}">Sign in</a>`;
    tone = "attention";
  }
  if (state.firstAttention) {
    notes.push(html`<a class="syncbar-attention" href="/field/changes">needs attention: ${state.firstAttention}</a>`);
    tone = "attention";
  }
  if (state.oldest && Date.now() - state.oldest > DAY) {
    const waited = ago(state.oldest).replace(" ago", "");
    notes.push(state.online
      ? html`<a class="syncbar-old" href="/field/changes">the oldest change has waited ${waited}: see what holds it</a>`
      : html`<span class="syncbar-old">the oldest change has waited ${waited}: connect to send it</span>`);
    tone = "attention";
  }
  if (app.updated) notes.push(html`<button type="button" class="syncbar-update" data-reload>FieldKit was updated: tap to reload</button>`);
  bar.className = `syncbar tone-${tone}`;
  bar.innerHTML = html`<div class="syncbar-line"><a href="/field/changes" class="syncbar-text">${parts.join(" · ")}</a>
    ${action || html`<button type="button" class="button small" data-sync ${state.running || !state.online ? "disabled" : ""}>Sync now</button>`}</div>
    ${notes.length ? html`<div class="syncbar-notes">${notes}</div>` : ""}`.text;
}

bar.addEventListener("click", (event) => {
  if (event.target.closest("[data-sync]")) sync.flush();
  if (event.target.closest("[data-reload]")) location.reload();
});

async function whoIsSignedIn() {
  try {
    const response = await fetch("/api/me", { headers: { "X-FieldKit-Client": "field", Accept: "application/json" },
      credentials: "same-origin", signal: AbortSignal.timeout(WHO_WAIT) });
    if (response.status === 401) {
      localStorage.removeItem(USER_KEY);
      location.replace(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
      return null;
    }
    const { id, email, name, role } = response.ok ? await response.json() : {};
    if (Number.isInteger(id)) { // a Wi-Fi sign-in page is not FieldKit saying who this is
      const user = { id, email, name, role };
      localStorage.setItem(USER_KEY, JSON.stringify(user));
      return user;
    }
  } catch { /* no network, no answer in time, or not FieldKit's: the person who signed in last on this phone */ }
  return JSON.parse(localStorage.getItem(USER_KEY) || "null");
}

async function main_() {
  if ("serviceWorker" in navigator) {
    const before = navigator.serviceWorker.controller;
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((e) => console.warn(e));
    // A new version took over: the data is untouched, but this page still runs the old code.
    navigator.serviceWorker.addEventListener("controllerchange", () => {
      if (before) app.updated = true;
      drawBar(sync.state);
    });
  }
  const user = await whoIsSignedIn();
  if (!user) {
    main.innerHTML = html`<section class="card"><h1>Signed out</h1>
      <p>Connect to the internet and sign in to use the field app on this phone.</p>
      <a class="button primary" href="/login?next=/field/">Sign in</a></section>`.text;
    return;
  }
  app.user = user;
  document.getElementById("me-link").textContent = user.name.split(" ")[0] || "This phone";
  await store.open(user.id);
  await store.setMeta("owner", { name: user.name || user.email }); // what the next person on this phone is told
  if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => false);
  startRouter(render);
  sync.onChange((state, dataChanged) => {
    drawBar(state);
    if (dataChanged) refresh();
  });
  await sync.counts();
  drawBar(sync.state);
  await render();
  setInterval(() => drawBar(sync.state), 30_000); // "last synced 2 min ago" keeps counting
  await sync.start(user);
}

if (location.pathname === "/field") go("/field/", { replace: true });
main_();
