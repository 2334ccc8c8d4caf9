// The dashboard: hash routes (bookmarkable), one view at a time in <main>. Data comes
// from /api/<command> (the query protocol, docs/protocol.md "HTTP API") and /api/tail.
import { clear, el } from "./dom.js";
import { rule } from "./rule_view.js";
import * as views from "./views.js";

const routes = {
  "": views.overview,
  vhost: views.vhost,
  events: views.events,
  event: views.eventDetail,
  rule,
  live: views.live,
  tuning: views.tuning,
  health: views.health,
};

let cleanup = null;

// "#/vhost/shop.example?window=24h" -> {name: "vhost", args: ["shop.example"], params}
export function parseHash(hash) {
  const text = hash.replace(/^#\/?/, "");
  const q = text.indexOf("?");
  const path = q < 0 ? text : text.slice(0, q);
  const params = new URLSearchParams(q < 0 ? "" : text.slice(q + 1));
  const parts = path.split("/").filter((p) => p !== "").map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      throw new Error(`the address has a malformed %-escape: ${p}`);
    }
  });
  return { name: parts[0] || "", args: parts.slice(1), params };
}

async function render() {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const main = clear(document.getElementById("main"));
  let route;
  try {
    route = parseHash(location.hash);
  } catch (e) {
    main.append(el("p", { class: "error" }, String(e.message || e)));
    main.dataset.ready = "true";
    return;
  }
  const view = routes[route.name];
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", a.dataset.view === (route.name || "overview") ||
      (route.name === "event" && a.dataset.view === "events"));
  }
  if (!view) {
    main.append(el("p", { class: "error" }, "No such page: ", location.hash));
    return;
  }
  main.dataset.view = route.name || "overview";
  main.dataset.ready = "false";
  try {
    cleanup = (await view(main, route)) || null;
  } catch (e) {
    main.append(el("p", { class: "error" }, String(e.message || e)));
  }
  main.dataset.ready = "true";
}

window.addEventListener("hashchange", render);
render();
