// Small helpers for screens: escaped HTML templates, dates and times in words, and a confirm dialog.
import { STATUS_LABELS, VERDICT_LABELS } from "./rules.js";

class Raw {
  constructor(text) { this.text = text; }
  toString() { return this.text; }
}

export const raw = (text) => new Raw(text);
export const esc = (value) => String(value ?? "").replace(/[&<>"']/g, (c) => (
  { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

const part = (v) => (v instanceof Raw ? v.text : Array.isArray(v) ? v.map(part).join("")
  : v === false || v === null || v === undefined ? "" : esc(v));

// html`<p>${userText}</p>`: every value is escaped unless it is itself html`` (or raw()).
export const html = (strings, ...values) =>
  raw(strings.reduce((out, s, i) => out + s + (i < values.length ? part(values[i]) : ""), ""));

export const plural = (n, word, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;

export function ago(ms) {
  if (!ms) return "never";
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${plural(Math.round(s / 86400), "day")} ago`;
}

export function day(iso, options = { weekday: "short", day: "numeric", month: "short" }) {
  if (!iso) return "";
  return new Date(`${iso.slice(0, 10)}T12:00:00`).toLocaleDateString("en-GB", options);
}

export function daysTo(iso) {
  const today = new Date();
  today.setHours(12, 0, 0, 0);
  const n = Math.round((new Date(`${iso}T12:00:00`) - today) / 86400000);
  return n > 1 ? `in ${n} days` : n === 1 ? "tomorrow" : n === 0 ? "today" : n === -1 ? "yesterday" : `${-n} days ago`;
}

export function bytes(n) {
  if (!n) return "0 KB";
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  const i = Math.min(units.length - 1, Math.floor(Math.log(n) / Math.log(1024)));
  return `${(n / 1024 ** i).toFixed(i > 1 ? 1 : 0)} ${units[i]}`;
}

// The server's label tables (rules.js): "Go", "At risk", "No go"; "to do", "pass", "fail", "n/a".
export const statusLabel = (status, disputed = false) => (disputed ? "disputed" : STATUS_LABELS[status] || status);

export const verdict = (status) =>
  html`<span class="verdict verdict-${(status || "at_risk").toLowerCase()}">${VERDICT_LABELS[status] ? VERDICT_LABELS[status].short : status}</span>`;

// A confirm dialog in the page (a native confirm() cannot say which button does what).
export function ask(text, yes = "OK", no = "Cancel") {
  const dialog = document.getElementById("ask");
  document.getElementById("ask-text").textContent = text;
  document.getElementById("ask-yes").textContent = yes;
  document.getElementById("ask-no").textContent = no;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
    dialog.showModal();
  });
}
