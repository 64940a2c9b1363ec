// A tiny router: paths under /field/ and /t/<tag> map to screens; links inside the app never reload.
const routes = [];

export function route(pattern, screen) {
  const names = [];
  const regex = new RegExp(`^${pattern.replace(/:(\w+)/g, (_, name) => { names.push(name); return "([^/]+)"; })}/?$`);
  routes.push({ regex, names, screen });
}

export function match(path) {
  for (const { regex, names, screen } of routes) {
    const found = regex.exec(path);
    if (found) {
      const params = Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(found[i + 1])]));
      return { screen, params };
    }
  }
  return null;
}

let onNavigate = () => {};

export function start(render) {
  onNavigate = render;
  addEventListener("popstate", () => render());
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || link.target) return;
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin || !(url.pathname.startsWith("/field/") || url.pathname.startsWith("/t/"))) return;
    event.preventDefault();
    go(url.pathname + url.search);
  });
}

export function go(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  onNavigate({ scroll: true });
}
