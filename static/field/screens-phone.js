// This phone: who is signed in, what is stored, what waits to be sent, and signing out safely.
import * as store from "./store.js";
import * as sync from "./sync.js";
import { ago, ask, bytes, html, plural } from "./ui.js";

export async function changes(_, app) {
  const [outbox, photos, sites, items] = await Promise.all([store.all("outbox"), store.all("photos"), store.all("sites"), store.all("items")]);
  const siteName = new Map(sites.map((s) => [s.id, s.name]));
  const itemName = new Map(items.map((i) => [i.id, `${i.title}${i.room ? ` (${i.room})` : ""}`]));
  const waitingPhotos = photos.filter((p) => p.blob);
  const describe = (m) => (m.type === "item.update"
    ? html`<b>${itemName.get(m.item_id) || `item ${m.item_id}`}</b>: ${Object.entries(m.set).map(([k, v], i) => html`${i ? ", " : ""}${k} → ${typeof v === "object" ? JSON.stringify(v) : v || "(empty)"}`)}`
    : html`<b>${m.set.kind || "asset"} ${m.set.tag || ""}</b>: ${Object.keys(m.set).join(", ")}`);
  const row = (r) => html`<li class="change ${r.state === "attention" ? "change-attention" : ""}">
    <p>${describe(r.mutation)}</p>
    <p class="muted small">${siteName.get(r.site_id) || ""} · made ${ago(r.at)}</p>
    ${r.state === "attention" ? html`<p class="field-error">Refused by the server: ${r.error && r.error.message}</p>
      <button type="button" class="button danger" data-action="discard" data-n="${r.n}">Discard this change</button>` : ""}</li>`;
  const photoRow = (p) => html`<li class="change ${p.state === "attention" ? "change-attention" : ""}">
    <p><b>Photo</b> for ${p.item_id ? itemName.get(p.item_id) || "an item" : "an asset"} · ${bytes(p.blob.size)}</p>
    <p class="muted small">${siteName.get(p.site_id) || ""} · taken ${ago(p.at)}</p>
    ${p.error ? html`<p class="${p.state === "attention" ? "field-error" : "muted small"}">${p.error.message}</p>` : ""}
    ${p.state === "attention" ? html`<button type="button" class="button danger" data-action="discard-photo" data-id="${p.id}">Discard this photo</button>` : ""}</li>`;
  return {
    title: "Waiting changes",
    html: html`<h1>Waiting changes</h1>
      ${outbox.length || waitingPhotos.length ? html`<p>${[outbox.length && plural(outbox.length, "change"), waitingPhotos.length
        && plural(waitingPhotos.length, "photo")].filter(Boolean).join(" and ")} ${outbox.length + waitingPhotos.length === 1 ? "is" : "are"} on this phone only.
        They are sent by themselves when there is a connection; a change the server refused waits for you to decide.</p>`
        : app.state.others.length ? html`<p class="flash flash-waiting">Everything made on this phone is on the server, except
          ${app.state.others.map((other) => sync.othersText(other, true)).join("; ")}.</p>`
        : html`<p class="flash flash-ok">Everything made on this phone is on the server. Safe to close.</p>`}
      ${app.state.error ? html`<p class="flash flash-error">Last attempt: ${app.state.error}</p>` : ""}
      <button type="button" class="button primary wide" data-action="sync">Sync now</button>
      ${outbox.length ? html`<ol class="changes">${outbox.map(row)}</ol>` : ""}
      ${waitingPhotos.length ? html`<ol class="changes">${waitingPhotos.map(photoRow)}</ol>` : ""}`,
    actions: {
      sync: () => sync.flush(),
      async discard(el) {
        if (await ask("Discard this change? It was refused by the server and will be gone from this phone for good.", "Discard", "Keep it")) {
          await sync.discard(Number(el.dataset.n));
        }
      },
      async "discard-photo"(el) {
        if (await ask("Discard this photo? It is not on the server, so it will be gone for good.", "Discard", "Keep it")) {
          await sync.discardPhoto(el.dataset.id);
        }
      },
    },
  };
}

export async function phone(_, app) {
  const estimate = navigator.storage && navigator.storage.estimate ? await navigator.storage.estimate().catch(() => null) : null;
  const persisted = navigator.storage && navigator.storage.persisted ? await navigator.storage.persisted().catch(() => false) : false;
  const [sites, device, cursor] = await Promise.all([store.all("sites"), store.deviceId(), store.meta("cursor")]);
  const { user, state } = app;
  return {
    title: "This phone",
    html: html`<h1>This phone</h1>
      <section class="card"><dl class="pairs">
        <dt>Signed in</dt><dd>${user.name} · ${user.email}</dd>
        <dt>Sites stored</dt><dd>${sites.filter((s) => s.bundled).length}</dd>
        <dt>Storage used</dt><dd id="storage-used">${estimate ? `${bytes(estimate.usage)} of ${bytes(estimate.quota)}` : "unknown"}</dd>
        <dt>Kept by the browser</dt><dd>${persisted ? "yes: persistent storage" : "not guaranteed: the browser may clear it when space runs low"}</dd>
        <dt>Waiting</dt><dd>${state.waiting ? html`<a href="/field/changes">${plural(state.waiting, "change")}</a>` : state.others.length ? "nothing of yours" : "nothing"}
          ${state.others.map((other) => html`<br><span class="muted">${sync.othersText(other)}</span>`)}</dd>
        <dt>Last synced</dt><dd>${ago(state.lastSynced)}</dd>
        <dt>Device</dt><dd class="small">${device} · cursor ${cursor ?? "–"}</dd>
      </dl>
      ${persisted ? "" : html`<button type="button" class="button wide" data-action="persist">Keep my data on this phone</button>`}
      <button type="button" class="button wide" data-action="sync">Sync now</button></section>
      <section class="card"><h2>Sign out</h2>
        <p class="muted">Someone else using this phone signs in as themselves and never sees your sites or changes.</p>
        <button type="button" class="button danger wide" data-action="signout">Sign out</button></section>`,
    actions: {
      sync: () => sync.flush(),
      async persist() {
        await navigator.storage.persist().catch(() => false);
        app.render();
      },
      signout: () => signOut(app),
    },
  };
}

// Waiting changes are never deleted by signing out: they stay in this person's own database until
// they sign in here again. With nothing waiting, their copy is removed so the phone keeps nothing of them.
async function signOut(app) {
  const { waiting } = await sync.counts();
  if (waiting && !(await ask(`${plural(waiting, "change")} made on this phone ${waiting === 1 ? "has" : "have"} not reached the server yet. `
    + `${waiting === 1 ? "It stays" : "They stay"} on this phone, hidden from anyone else, and ${waiting === 1 ? "is" : "are"} sent when you sign in here again. Sign out anyway?`,
  "Sign out, keep them", "Stay signed in"))) return;
  let token;
  try {
    const response = await fetch("/api/me", { headers: { "X-FieldKit-Client": "field", Accept: "application/json" },
      credentials: "same-origin", signal: AbortSignal.timeout(sync.settings.timeout) });
    if (response.status !== 401) { // 401: the server has signed this phone out already
      token = response.ok && (await response.json()).csrf_token;
      if (typeof token !== "string") throw new Error("not FieldKit's answer");
    }
  } catch {
    await ask("Signing out needs a connection to FieldKit, and this phone has none right now (offline, or a Wi-Fi sign-in page). Your data stays safe on this phone.", "OK", "Close");
    return;
  }
  localStorage.removeItem("fieldkit-user");
  if (!waiting) await store.forget(app.user.id);
  else store.close();
  const body = new URLSearchParams({ csrf_token: token });
  if (token) await fetch("/logout", { method: "POST", body, credentials: "same-origin", signal: AbortSignal.timeout(sync.settings.timeout) })
    .catch(() => null);
  location.replace("/login");
}
