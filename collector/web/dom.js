// Building DOM without markup strings: every value goes in as a text node or through
// textContent, never through innerHTML, so request data can never become markup
// (docs/SECURITY.md, "The dashboard").

// el("td", {class: "num"}, "text", otherNode, ...): attributes are set with setAttribute,
// children that are not nodes become text nodes. Only fixed attribute names are used
// by the callers; href values are built by link() below.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) {
      node.addEventListener(name.slice(2), value);
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

// Appends one child or an array of them (nested arrays too).
export function append(node, children) {
  const list = Array.isArray(children) ? children.flat(Infinity) : [children];
  for (const child of list) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A link to one of the dashboard's own views: always "#/...", the parts URI-encoded.
export function link(text, route, params = {}) {
  return el("a", { href: hashFor(route, params) }, text);
}

export function hashFor(route, params = {}) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") query.set(k, String(v));
  }
  const path = route.map((part) => encodeURIComponent(part)).join("/");
  const qs = query.toString();
  return "#/" + path + (qs ? "?" + qs : "");
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

export function table(headers, rows, attrs = {}) {
  return el("table", attrs,
    el("thead", {}, el("tr", {}, headers.map((h) => (h instanceof Node ? el("th", {}, h) : el("th", {}, h))))),
    el("tbody", {}, rows));
}

export function num(n) {
  return typeof n === "number" ? n.toLocaleString("en-US") : "";
}
