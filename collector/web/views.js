// The views. Each takes <main> and the parsed route, fills it, and may return a
// cleanup function (the live view closes its stream). Values from requests are only
// ever text (dom.js).
import { append, clear, el, hashFor, link, num, table } from "./dom.js";

const PAGE = 50;
export const WINDOWS = [["1h", 3600], ["6h", 6 * 3600], ["24h", 86400], ["7d", 7 * 86400], ["30d", 30 * 86400]];

// A URL parameter that must be one of `choices`: its value, or `fallback` when absent.
// Anything else throws, and the page shows the error instead of a view of something
// else than the address says.
export function choiceParam(params, key, choices, fallback) {
  const value = params.get(key);
  if (value === null) return fallback;
  if (choices.includes(value)) return value;
  throw new Error(`${key}=${JSON.stringify(value)} in the address: it must be one of ${choices.join(", ")}`);
}

// The `window` parameter as [label, seconds], one of WINDOWS.
export function windowParam(params, fallback) {
  const label = choiceParam(params, "window", WINDOWS.map(([l]) => l), fallback);
  return WINDOWS.find(([l]) => l === label);
}

// The `page` parameter: 1 when absent, else a whole number from 1 to `pages`.
function pageParam(params, pages) {
  const value = params.get("page");
  if (value === null) return 1;
  const page = /^[0-9]{1,9}$/.test(value) ? Number(value) : 0;
  if (page < 1 || page > pages) {
    throw new Error(`page=${JSON.stringify(value)} in the address: there ${pages === 1 ? "is 1 page" : `are ${pages} pages`}`);
  }
  return page;
}

// GET /api/<cmd>; an array value repeats its key once per element (`vhosts`); empty
// values are left out. Throws with the collector's error message.
export async function api(cmd, params = {}) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) {
      for (const one of v) query.append(k, String(one));
    } else if (v !== undefined && v !== null && v !== "") {
      query.set(k, String(v));
    }
  }
  const response = await fetch("/api/" + cmd + (query.toString() ? "?" + query : ""));
  const answer = await response.json();
  if (!answer.ok) throw new Error(cmd + ": " + answer.error);
  setStatus("updated " + new Date().toLocaleTimeString());
  return answer;
}

// How old (seconds) a vhost's top lists from history may be: a store read per list per
// view is what ten dashboards open on one vhost cost the collector most.
const LISTS_MAX_AGE = 10;

// Whether the collector keeps history (`health`'s history.enabled), asked once per page
// load: without it the views ask memory instead or say so, rather than be refused.
let historyKept = null;
export function keepsHistory() {
  if (historyKept === null) {
    historyKept = api("health").then((h) => Boolean(h.history && h.history.enabled), () => true);
  }
  return historyKept;
}

const NO_HISTORY = "this collector keeps no history (--no-history, or no --state-dir)";

function setStatus(text) {
  const status = document.getElementById("status");
  if (status) status.textContent = text;
}

// SecRuleEngine: as the vhost's Apache configuration sets it (the module says so with
// its counts); without that (an import, a console sensor, an older module), what the
// counts show: it blocked something, or it would have.
const ENGINE_NAMES = new Map([["on", "On"], ["off", "Off"], ["detection_only", "DetectionOnly"]]);
function engineOf(v) {
  if (ENGINE_NAMES.has(v.engine)) return ENGINE_NAMES.get(v.engine);
  if (v.intercepted > 0) return "On (seen blocking)";
  if (v.would_block > 0) return "DetectionOnly (seen)";
  return "–";
}

// Every events, event and tail row carries the collector's verdict (common/event.h's rule);
// a row without one (an older collector) is not guessed at: passed and would_block differ
// by thresholds the row may not carry.
export function verdictOf(e) {
  if (e.verdict) return e.verdict;
  return e.intercepted ? "intercepted" : "unknown";
}

function pager(total, page, hashForPage) {
  const pages = Math.max(1, Math.ceil(total / PAGE));
  return el("div", { class: "pager" },
    page > 1 ? link("‹ previous", ...hashForPage(page - 1)) : el("span", {}, "‹ previous"),
    el("span", { class: "page" }, `page ${page} of ${pages}`),
    page < pages ? link("next ›", ...hashForPage(page + 1)) : el("span", {}, "next ›"));
}

const PLACEHOLDERS = { window: "e.g. 24h", since: "2h or 2026-12-01T08:00:00", until: "2h or 2026-12-01T08:00:00" };

// A point in time as the CLI's --since/--until take it: a duration back from now
// (3600, 90s, 15m, 24h, 7d) or an ISO time in UTC (2026-12-01T08:00:00, a trailing Z
// allowed); epoch seconds for the API, or an error naming the filter.
export function pointInTime(key, text, nowS = Math.floor(Date.now() / 1000)) {
  const d = /^(\d{1,12})([smhd]?)$/.exec(text);
  if (d) return String(Math.max(0, nowS - Number(d[1]) * { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[d[2]]));
  const t = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z?$/.exec(text);
  const ms = t ? Date.UTC(+t[1], +t[2] - 1, +t[3], +t[4], +t[5], +t[6]) : NaN;
  if (Number.isNaN(ms) || ms < 0) {
    throw new Error(`${key}: expected a duration (e.g. 2h) or an ISO time in UTC (e.g. 2026-12-01T08:00:00), got "${text}"`);
  }
  return String(Math.floor(ms / 1000));
}

// The filters form of a view: `filters` as [name, "text" | [options]], prefilled from
// `params`; `submit` gets the trimmed values.
function filterForm(id, filters, params, label, submit) {
  const form = el("form", { id, class: "filters" });
  for (const [key, type] of filters) {
    const input = Array.isArray(type)
      ? el("select", { name: key }, type.map((o) => el("option", { value: o }, o || "any")))
      : el("input", { name: key, type, placeholder: PLACEHOLDERS[key] || "" });
    input.value = params[key] || "";
    append(form, el("label", {}, key, input));
  }
  append(form, el("button", { type: "submit" }, label));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = {};
    for (const [key] of filters) next[key] = form.elements[key].value.trim();
    submit(next);
  });
  return form;
}

// ---- Overview ----

const OVERVIEW_COLUMNS = [
  ["vhost", "vhost"], ["requests", "requests"], ["flagged", "flagged"],
  ["intercepted", "blocked"], ["would_block", "would block"], ["engine", "engine"],
  ["last_seen", "last seen"],
];

export async function overview(main, route) {
  const sort = choiceParam(route.params, "sort", OVERVIEW_COLUMNS.map(([key]) => key), "flagged");
  const descending = choiceParam(route.params, "dir", ["asc", "desc"], "desc") === "desc";
  // `vhosts` carries every column shown here: a third of `stats` (no histograms).
  const answer = await api("vhosts");
  const vhosts = answer.vhosts.map((v) => ({ ...v, engine: engineOf(v) }));
  const page = pageParam(route.params, Math.max(1, Math.ceil(vhosts.length / PAGE)));
  vhosts.sort((a, b) => {
    const x = a[sort], y = b[sort];
    const order = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
    return descending ? -order : order;
  });
  const total = vhosts.reduce((t, v) => {
    for (const k of ["requests", "flagged", "intercepted", "would_block"]) t[k] += v[k];
    return t;
  }, { requests: 0, flagged: 0, intercepted: 0, would_block: 0 });
  append(main, [
    el("h1", {}, "Overview"),
    el("div", { class: "cards" },
      card("vhosts", vhosts.length), card("requests", total.requests), card("flagged", total.flagged),
      card("blocked", total.intercepted), card("would block", total.would_block)),
  ]);
  const headers = OVERVIEW_COLUMNS.map(([key, label]) =>
    link(label + (key === sort ? (descending ? " ▾" : " ▴") : ""), [],
      { sort: key, dir: key === sort && descending ? "asc" : "desc" }));
  const rows = vhosts.slice((page - 1) * PAGE, page * PAGE).map((v) => el("tr", {},
    el("td", {}, link(v.vhost, ["vhost", v.vhost], { window: "24h" })),
    el("td", { class: "num" }, num(v.requests)),
    el("td", { class: "num" }, num(v.flagged)),
    el("td", { class: "num" }, num(v.intercepted)),
    el("td", { class: "num" }, num(v.would_block)),
    el("td", {}, v.engine),
    el("td", {}, v.last_seen || ""),
    el("td", { class: "spark", "data-vhost": v.vhost, title: "requests (blue) and flagged (yellow) per minute, the last hour" })));
  append(main, [
    table([...headers, "last hour"], rows, { id: "vhosts" }),
    pager(vhosts.length, page, (p) => [[], { sort, dir: descending ? "desc" : "asc", page: p }]),
  ]);
  const sourcesSection = el("section", { id: "sources-section" });
  append(main, sourcesSection);
  // The sparklines and the sources come after the table (`sources` may scan history),
  // the sparklines for the rows on this page only, in one request; leaving the view
  // before the answer draws none.
  let left = false;
  sparklines([...main.querySelectorAll("#vhosts td.spark")], () => left);
  sources(sourcesSection, () => left);
  return () => { left = true; };
}

const SOURCES_SHOWN = 50;

// Where the events come from (`sources`): the module and each receiver's sensors or
// imports, most recently seen first; the sources only history still knows, by name.
async function sources(section, stopped) {
  let answer;
  try {
    answer = await api("sources");
  } catch (e) {
    if (stopped()) return;
    append(section, el("h2", {}, "Sources"), el("p", { class: "error" }, String(e.message || e)));
    section.dataset.ready = "true";
    return;
  }
  if (stopped()) return;
  const live = answer.sources || [];
  const known = new Set(live.map((s) => s.source));
  const storedOnly = (answer.history || []).filter((h) => !known.has(h.source));
  const skew = (s) => (s.clock_skew_s ? `${s.clock_skew_s.last} s (${s.clock_skew_s.min} to ${s.clock_skew_s.max})` : "–");
  const rows = live.slice(0, SOURCES_SHOWN).map((s) => el("tr", {},
    el("td", {}, link(s.source, ["events"], { source: s.source })),
    el("td", { class: "num" }, num(s.events)),
    el("td", {}, s.last_seen || ""),
    el("td", { class: "num" }, s.last_seen_ago_s === undefined ? "" : `${num(s.last_seen_ago_s)} s`),
    el("td", {}, s.last_event_time || ""),
    el("td", {}, skew(s)),
    el("td", { class: "num" }, num(s.refused || 0))));
  append(section, [
    el("h2", {}, "Sources"),
    live.length > SOURCES_SHOWN ? el("p", { class: "meta" }, `The ${SOURCES_SHOWN} most recently seen of ${num(live.length)}.`) : null,
    table(["source", "events", "last seen", "ago", "newest event", "clock skew (last, range)", "refused"], rows, { id: "sources" }),
    storedOnly.length ? el("p", { class: "meta", id: "sources-history" }, "Only in history: ",
      storedOnly.map((h, i) => [i ? ", " : "", link(h.source, ["events"], { source: h.source }), ` (${num(h.events)} events)`])) : null,
  ]);
  section.dataset.ready = "true";
}

// What one sparkline request may list: the protocol's limit (k_max_listed_vhosts), and
// URL bytes well under the 8 KiB request line the collector's HTTP server reads.
const SPARK_VHOSTS = 100;
const SPARK_URL_BYTES = 6000;

// The cells in request-sized groups: one for a page of ordinary names, more only when
// the names are long.
function sparkBatches(cells) {
  const batches = [];
  let batch = [], bytes = 0;
  for (const cell of cells) {
    const size = new URLSearchParams({ vhosts: cell.dataset.vhost }).toString().length + 1;
    if (batch.length && (batch.length === SPARK_VHOSTS || bytes + size > SPARK_URL_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(cell);
    bytes += size;
  }
  if (batch.length) batches.push(batch);
  return batches;
}

// Each cell's vhost: requests and flagged per minute over the last hour, from one
// `timeseries` request listing the page's vhosts. A vhost's first series is drawn (the
// module's when several sources have it); one without points draws an empty line.
async function sparklines(cells, stopped) {
  for (const batch of sparkBatches(cells)) {
    if (stopped()) return;
    let answer;
    try {
      answer = await api("timeseries", { vhosts: batch.map((c) => c.dataset.vhost), window: 3600, resolution: "minute" });
    } catch (e) {
      for (const cell of batch) {
        cell.dataset.error = cell.title = String(e.message || e);
        cell.textContent = "–";
      }
      continue;
    }
    if (stopped()) return;
    const points = new Map();
    for (const s of answer.series) if (!points.has(s.vhost)) points.set(s.vhost, s.points);
    for (const cell of batch) drawSparkline(cell, points.get(cell.dataset.vhost) || []);
  }
}

// Records on the plot's element what it was given (data-points: the x values;
// data-sums: each series' sum), for the browser test to hold against the API's answer.
export function recordPlotted(target, data) {
  target.dataset.points = String(data[0].length);
  target.dataset.sums = data.slice(1).map((c) => c.reduce((a, b) => a + (b || 0), 0)).join(",");
}

function drawSparkline(target, points) {
  const data = seriesGrid(points, 3600, "minute", ["requests", "flagged"]);
  recordPlotted(target, data);
  // eslint-disable-next-line no-undef
  new uPlot({
    width: 120, height: 28,
    legend: { show: false }, cursor: { show: false }, select: { show: false },
    axes: [{ show: false }, { show: false }],
    series: [{},
      { label: "requests", stroke: "#4a7bd0", width: 1, fill: "rgba(74, 123, 208, 0.12)" },
      { label: "flagged", stroke: "#d9a400", width: 1 }],
  }, data, target);
}

export function card(label, value) {
  return el("div", { class: "card" }, el("div", { class: "value" }, num(value)), el("div", { class: "label" }, label));
}

// ---- Vhost ----

export async function vhost(main, route) {
  const name = route.args[0] || "";
  const [windowName, windowS] = windowParam(route.params, "24h");
  const resolution = windowS > 86400 ? "hour" : "minute";
  append(main, [
    el("h1", {}, "vhost ", el("span", { class: "name" }, name)),
    el("div", { class: "windows" }, "window: ",
      WINDOWS.map(([n]) => (n === windowName ? el("strong", {}, n) : link(n, ["vhost", name], { window: n })))),
  ]);
  const [series, stats] = await Promise.all([
    api("timeseries", { vhost: name, window: windowS, resolution }),
    api("stats", { vhost: name, window: windowS, rules_limit: 20 }),
  ]);
  const v = stats.vhosts[0] || { requests: 0, flagged: 0, intercepted: 0, would_block: 0, rules: [] };
  if (ENGINE_NAMES.has(v.engine)) {
    append(main, el("p", { class: "meta", id: "engine" }, `SecRuleEngine ${ENGINE_NAMES.get(v.engine)}`,
      v.engine === "detection_only" ? ": nothing is blocked; “would block” counts what On would have blocked." : ""));
  }
  append(main, el("div", { class: "cards" },
    card("requests", v.requests), card("flagged", v.flagged), card("blocked", v.intercepted),
    card("would block", v.would_block)));
  const plot = el("div", { class: "plot", id: "timeseries" });
  append(main, [el("h2", {}, `Requests per ${resolution}`), plot]);
  drawSeries(plot, (series.series[0] || { points: [] }).points, windowS, resolution);

  const rules = v.rules || [];
  const most = Math.max(1, ...rules.map((r) => r.hits));
  append(main, [
    el("h2", {}, "Top rules"),
    rules.length === 0 ? el("p", {}, "No rule matched in this window.") :
      table(["rule", "message", "hits", ""], rules.map((r) => el("tr", {},
        el("td", {}, link(r.id, ["rule", r.id, name], { window: windowName })),
        el("td", {}, r.msg || ""),
        el("td", { class: "num" }, link(num(r.hits), ["events"], { vhost: name, rule: r.id, window: windowName })),
        el("td", {}, el("meter", { min: 0, max: most, value: r.hits })))), { id: "rules" }),
  ]);
  // Anomaly scores since the start (stats without a window: the histograms are all-time).
  const scores = (await api("stats", { vhost: name, rules_limit: 1, score_levels: true })).vhosts[0];
  if (scores && scores.scores) {
    const plotScores = el("div", { class: "plot", id: "scores" });
    append(main, [el("h2", {}, "Anomaly scores (requests per score range, since the start)"), plotScores]);
    drawScores(plotScores, scores.scores);
    drawLevels(main, scores.scores);
  }
  // The lists of the window come from history; memory counts them since the start.
  const history = await keepsHistory();
  const lists = el("div", { class: "lists" });
  append(main, [
    history ? null : el("p", { class: "meta", id: "lists-since-start" },
      `The lists below count since the collector started, not over ${windowName}: ${NO_HISTORY}.`),
    lists,
  ]);
  const listNames = [["clients", "client"], ["paths", "path"], ["agents", null], ["targets", null]];
  // From history each list reads every stored event of the window; an answer to the same
  // list up to LISTS_MAX_AGE seconds old (another dashboard's, a reload's) will do.
  const answers = await Promise.all(listNames.map(([list]) =>
    api("top", { list, vhost: name, window: history ? windowS : "", limit: 10, max_age: history ? LISTS_MAX_AGE : "" })));
  const asOf = answers.map((a) => a.as_of).filter(Boolean).sort()[0]; // the oldest list's
  if (asOf) {
    lists.before(el("p", { class: "meta", id: "lists-as-of" },
      `Lists as of ${new Date(asOf).toLocaleTimeString()} (each counted at most ${LISTS_MAX_AGE} s before it was asked for).`));
  }
  listNames.forEach(([list, filter], i) => {
    const rows = answers[i].top.map((t) => el("tr", {},
      el("td", { class: "value" }, filter ? link(t.value, ["events"], { vhost: name, [filter]: t.value, window: windowName }) : t.value),
      el("td", { class: "num" }, num(t.count))));
    append(lists, el("section", {}, el("h2", {}, "Top " + list),
      rows.length ? table([list.replace(/s$/, ""), "count"], rows, { id: "top-" + list }) : el("p", {}, "None.")));
  });
}

// uPlot's data for a window: one x per minute or hour up to now, and a column per field
// of the points (0 where the collector has no point).
export function seriesGrid(points, windowS, resolution, fields) {
  const step = resolution === "hour" ? 3600 : 60;
  const now = Math.floor(Date.now() / 1000 / step) * step;
  const byTime = new Map(points.map((p) => [Math.floor(Date.parse(p.time) / 1000), p]));
  const xs = [], cols = fields.map(() => []);
  for (let t = now - Math.floor(windowS / step) * step; t <= now; t += step) {
    const p = byTime.get(t) || {};
    xs.push(t);
    fields.forEach((f, i) => cols[i].push(p[f] || 0));
  }
  return [xs, ...cols];
}

function drawSeries(target, points, windowS, resolution) {
  const data = seriesGrid(points, windowS, resolution, ["requests", "flagged", "intercepted", "would_block"]);
  recordPlotted(target, data);
  const width = Math.max(400, target.clientWidth || 900);
  // eslint-disable-next-line no-undef
  new uPlot({
    width, height: 260,
    series: [{},
      { label: "requests", stroke: "#4a7bd0", width: 1.5 },
      { label: "flagged", stroke: "#d9a400", width: 1.5 },
      { label: "blocked", stroke: "#c0392b", width: 1.5 },
      { label: "would block", stroke: "#8e44ad", width: 1.5, dash: [6, 3] }],
    axes: [{}, { size: 60 }],
  }, data, target);
}

// Per paranoia level, as CRS counts them: the score each level's rules added to a
// request (stats' inbound_pl / outbound_pl, the bounds of the blocking score). One small
// histogram per level that raised a score; the levels that raised none are named.
function drawLevels(main, scores) {
  const inbound = scores.inbound_pl || [], outbound = scores.outbound_pl || [];
  const raised = [], quiet = [];
  inbound.forEach((h, i) => (h.sum > 0 || (outbound[i] && outbound[i].sum > 0) ? raised : quiet).push(i));
  const grid = el("div", { class: "levels", id: "scores-pl" });
  append(main, [
    el("h2", {}, "Anomaly scores per paranoia level (the score each level's rules added)"),
    grid,
    quiet.length ? el("p", { class: "meta", id: "scores-pl-quiet" },
      `No score raised at PL ${quiet.map((i) => i + 1).join(", ")}.`) : null,
  ]);
  for (const i of raised) {
    const plot = el("div", { class: "plot", "data-pl": i + 1 });
    append(grid, el("section", {}, el("h3", {}, `PL ${i + 1}`), plot));
    drawScores(plot, {
      inbound: { bounds: scores.inbound.bounds, counts: inbound[i].counts },
      outbound: { counts: (outbound[i] || { counts: [] }).counts },
    }, 160);
  }
}

function drawScores(target, scores, height = 220) {
  const bounds = scores.inbound.bounds;
  const labels = bounds.map((b, i) => (i === 0 || bounds[i - 1] + 1 === b ? String(b) : `${bounds[i - 1] + 1}–${b}`))
    .concat(`>${bounds[bounds.length - 1]}`);
  const xs = labels.map((_, i) => i);
  const data = [xs, scores.inbound.counts, scores.outbound.counts];
  recordPlotted(target, data);
  // eslint-disable-next-line no-undef
  const bars = uPlot.paths.bars;
  // eslint-disable-next-line no-undef
  new uPlot({
    width: Math.max(400, target.clientWidth || 900), height,
    scales: { x: { time: false, range: () => [-0.6, labels.length - 0.4] } },
    series: [{ label: "score", value: (u, i) => (i == null ? "" : labels[i]) },
      { label: "inbound", stroke: "#c0392b", fill: "rgba(192,57,43,0.35)", paths: bars({ size: [0.4], align: -1 }) },
      { label: "outbound", stroke: "#2f5fb3", fill: "rgba(47,95,179,0.35)", paths: bars({ size: [0.4], align: 1 }) }],
    axes: [{ values: (u, ticks) => ticks.map((t) => labels[t] ?? "") }, { size: 60 }],
  }, data, target);
}

// ---- Events ----

const FILTERS = [
  ["vhost", "text"], ["rule", "text"], ["client", "text"], ["path", "text"], ["status", "number"],
  ["intercepted", ["", "true", "false"]], ["would_block", ["", "true", "false"]],
  ["engine", ["", "on", "detection_only"]], ["source", "text"], ["window", "text"],
  ["since", "text"], ["until", "text"], ["grep", "text"], ["limit", "number"],
];

export async function events(main, route) {
  const params = Object.fromEntries(route.params.entries());
  const form = filterForm("filters", FILTERS, params, "Search", (next) => {
    location.hash = hashFor(["events"], next);
  });
  append(main, [el("h1", {}, "Events"), form]);
  const query = { limit: 50, ...params };
  // In the URL as typed (a bookmark of "since=2h" stays relative); to the API as epoch
  // seconds.
  for (const key of ["since", "until"]) if (query[key]) query[key] = pointInTime(key, query[key]);
  const answer = await api("events", query);
  const rows = answer.events.map((e) => el("tr", {},
    el("td", {}, link(e.time || "", ["event", e.unique_id], e.source && e.source !== "module" ? { source: e.source } : {})),
    el("td", {}, e.vhost),
    el("td", {}, link(e.client, ["events"], { ...params, client: e.client, cursor: "" })),
    el("td", {}, e.method),
    el("td", { class: "value" }, e.path + (e.query ? "?" + e.query : "")),
    el("td", { class: "num" }, e.status),
    el("td", {}, el("span", { class: "verdict " + verdictOf(e) }, verdictOf(e))),
    el("td", {}, [...new Set(e.rules.map((r) => r.id).filter(Boolean))].join(" "))));
  append(main, [
    el("p", { class: "meta" }, `${answer.events.length} events from ${answer.from}`),
    table(["time", "vhost", "client", "method", "path", "status", "verdict", "rules"], rows, { id: "events" }),
    el("div", { class: "pager" },
      params.cursor ? link("« newest", ["events"], { ...params, cursor: "" }) : null,
      answer.next ? link("older ›", ["events"], { ...params, cursor: answer.next }) : el("span", {}, "no older events")),
  ]);
}

// ---- Event detail ----

export async function eventDetail(main, route) {
  const id = route.args[0] || "";
  const answer = await api("event", { unique_id: id, source: route.params.get("source") || "" });
  const e = answer.event;
  const s = e.scores || {};
  const fields = [
    ["unique_id", e.unique_id], ["time", e.time], ["vhost", e.vhost + (e.port ? ":" + e.port : "")],
    ["client", e.client], ["request", `${e.method} ${e.path}${e.query ? "?" + e.query : ""} ${e.protocol || ""}`],
    ["user agent", e.user_agent || ""], ["status", e.status], ["verdict", verdictOf(e)],
    ["engine", e.engine || ""], ["source", e.source || ""], ["phase", e.phase],
    ["inbound score", `${s.inbound ?? ""} (threshold ${s.inbound_threshold ?? "?"}; per PL ${(s.inbound_pl || []).join(" / ")})`],
    ["outbound score", `${s.outbound ?? ""} (threshold ${s.outbound_threshold ?? "?"}; per PL ${(s.outbound_pl || []).join(" / ")})`],
    ["paranoia", `blocking PL ${s.blocking_pl ?? "?"}, detection PL ${s.detection_pl ?? "?"}`],
    ["score sum", e.score_sum ?? ""], ["findings dropped", e.findings_dropped ?? 0],
  ];
  append(main, [
    el("h1", {}, "Request ", el("span", { class: "name" }, e.unique_id)),
    el("table", { class: "fields", id: "event-fields" }, el("tbody", {},
      fields.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", { class: "value" }, String(v ?? "")))))),
    el("h2", {}, `Findings (${e.rules.length})`),
    table(["rule", "severity", "PL", "score", "target", "matched data", "message", "tags"],
      e.rules.map((r) => el("tr", {},
        el("td", {}, r.id ? link(r.id, ["rule", r.id, e.vhost]) : "–"),
        el("td", {}, r.severity || ""), el("td", { class: "num" }, r.pl ?? ""),
        el("td", { class: "num" }, r.score ?? ""), el("td", { class: "value" }, r.target || ""),
        el("td", { class: "value" }, r.data || ""), el("td", { class: "value" }, r.msg || ""),
        el("td", { class: "tags" }, (r.tags || []).join(" ")))), { id: "findings" }),
  ]);
}

// ---- Live ----

// The filters of `tail` (docs/protocol.md): all the stream can filter on.
const LIVE_FILTERS = [
  ["vhost", "text"], ["rule", "text"], ["client", "text"],
  ["intercepted", ["", "true", "false"]], ["source", "text"],
];

// New flagged requests as the collector receives them (/api/tail), filtered by the
// stream itself. The filters and the paused state are in the URL: "#/live?vhost=x&paused=1"
// opens paused. Pausing closes the stream (what arrives meanwhile is not shown) and
// rewrites the URL without reloading the view, so the rows stay.
export async function live(main, route) {
  const filters = {};
  for (const [key] of LIVE_FILTERS) {
    if (route.params.get(key)) filters[key] = route.params.get(key);
  }
  let paused = route.params.get("paused") === "1";
  const here = () => hashFor(["live"], { ...filters, paused: paused ? "1" : "" });
  const rows = el("tbody", {});
  const problem = el("p", { id: "live-problem" }); // class "error" once there is one
  const counter = el("span", { id: "live-count" }, "0 events");
  const button = el("button", { id: "pause", type: "button" }, paused ? "Resume" : "Pause");
  const form = filterForm("live-filters", LIVE_FILTERS, filters, "Apply", (next) => {
    location.hash = hashFor(["live"], { ...next, paused: paused ? "1" : "" });
  });
  const shown = Object.keys(filters).length ? ` matching ${new URLSearchParams(filters)}` : "";
  append(main, [
    el("h1", {}, "Live"),
    form,
    el("p", { class: "meta", id: "live-meta" }, `New flagged requests${shown} as they arrive. `, counter, " ", button),
    problem,
    el("table", { id: "live" }, el("thead", {}, el("tr", {},
      ["time", "vhost", "client", "request", "status", "verdict", "rules"].map((h) => el("th", {}, h)))), rows),
  ]);
  let source = null, seen = 0;
  const open = () => {
    const query = new URLSearchParams(filters).toString();
    source = new EventSource("/api/tail" + (query ? "?" + query : ""));
    source.onmessage = (m) => {
      const e = JSON.parse(m.data);
      if (e.dropped) {
        rows.prepend(el("tr", { class: "dropped" }, el("td", { colspan: 7 }, `${e.dropped} events dropped (too slow)`)));
        return;
      }
      seen += 1;
      counter.textContent = `${seen} events`;
      rows.prepend(el("tr", {},
        el("td", {}, link(e.time || "", ["event", e.unique_id], e.source && e.source !== "module" ? { source: e.source } : {})),
        el("td", {}, e.vhost),
        el("td", {}, e.client), el("td", { class: "value" }, `${e.method} ${e.path}${e.query ? "?" + e.query : ""}`),
        el("td", { class: "num" }, e.status), el("td", {}, verdictOf(e)),
        el("td", {}, [...new Set(e.rules.map((r) => r.id).filter(Boolean))].join(" "))));
      while (rows.children.length > 500) rows.lastChild.remove();
    };
    source.onopen = () => {
      problem.className = "";
      problem.textContent = "";
      setStatus("live");
    };
    // A refused stream (a bad filter: 400; too many streams: 503) is not retried.
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        problem.className = "error";
        problem.textContent = "The live stream was refused (a bad filter, or too many open streams).";
        setStatus("stopped");
      }
    };
  };
  button.addEventListener("click", () => {
    paused = !paused;
    button.textContent = paused ? "Resume" : "Pause";
    history.replaceState(null, "", here());
    if (paused) {
      source.close();
      setStatus("paused");
    } else {
      open();
    }
  });
  if (paused) {
    setStatus("paused");
  } else {
    open();
  }
  return () => source && source.close();
}

// ---- Tuning (docs/TUNING.md): readiness per vhost, and one vhost's proposals ----

const VERDICT_TEXT = {
  ready: "ready for On",
  ready_after_exclusions: "ready after the exclusions",
  not_ready: "not ready",
};

export function windowPicker(current, hashForWindow) {
  return el("div", { class: "windows" }, "window: ", WINDOWS.map(([label]) =>
    label === current ? el("strong", {}, label) : link(label, ...hashForWindow(label))));
}

function beforeAfter(before, after) {
  return `${num(before)} → ${num(after)}`;
}

function reasonList(reasons, attrs = {}) {
  return el("ul", { class: "reasons", ...attrs }, (reasons || []).map((r) => el("li", {}, r)));
}

export async function tuning(main, route) {
  const [windowLabel, windowS] = windowParam(route.params, "7d");
  if (!(await keepsHistory())) {
    append(main, [el("h1", {}, "Tuning"), el("p", { class: "meta", id: "no-history" },
      `Tuning reads the requests kept in history, and ${NO_HISTORY}. Run the collector with `,
      el("code", {}, "--state-dir DIR"), " to keep them.")]);
    return null;
  }
  if (route.args.length) return tuneVhost(main, route.args[0], windowLabel, windowS);
  const answer = await api("readiness", { window: windowS });
  const rows = answer.vhosts.map((v) => el("tr", {},
    el("td", {}, link(v.vhost, ["tuning", v.vhost], { window: windowLabel })),
    el("td", {}, v.engine),
    el("td", { class: "verdict " + v.verdict }, VERDICT_TEXT[v.verdict] || v.verdict,
      v.verdict_now && v.verdict_now !== v.verdict ? el("div", { class: "meta" }, `as it is now: ${VERDICT_TEXT[v.verdict_now] || v.verdict_now}`) : null),
    el("td", { class: "num" }, num(v.requests)),
    el("td", { class: "num" }, beforeAfter(v.would_block, v.would_block_after)),
    el("td", { class: "num" }, beforeAfter(v.clients, v.clients_after)),
    el("td", { class: "num" }, beforeAfter(v.attacks_caught, v.attacks_caught_after)),
    el("td", { class: "num" }, num(v.exclusions)),
    el("td", {}, reasonList(v.reasons))));
  append(main, [
    el("h1", {}, "Tuning: readiness"),
    el("p", { class: "meta" }, "Per vhost, from the requests kept in history over the window: would the ",
      "vhost block legitimate requests with SecRuleEngine On, and do the proposed exclusions fix that? ",
      "Before → after the proposals."),
    windowPicker(windowLabel, (w) => [["tuning"], { window: w }]),
    table(["vhost", "engine", "verdict", "requests", "blocked or would block", "clients blocked",
      "attacks caught", "exclusions", "why"], rows, { id: "readiness" }),
  ]);
}

async function tuneVhost(main, name, windowLabel, windowS) {
  const answer = await api("tune", { vhost: name, window: windowS });
  const w = answer.what_if || {};
  const groups = answer.groups.map((g) => el("tr", { class: g.label },
    el("td", {}, link(g.rule, ["rule", g.rule, name], { window: windowLabel })),
    el("td", { class: "value" }, g.target || ""), el("td", { class: "value" }, g.path || ""),
    el("td", {}, g.method || ""),
    el("td", {}, g.label === "likely_false_positive" ? "likely false positive"
      : g.unsure ? "likely attack (unsure)" : "likely attack"),
    el("td", { class: "num" }, num(g.hits)), el("td", { class: "num" }, num(g.requests)),
    el("td", { class: "num" }, num(g.clients)), el("td", {}, reasonList(g.reasons))));
  const exclusions = answer.exclusions.map((x) => el("tr", {},
    el("td", {}, x.rule), el("td", { class: "value" }, x.target || "(the whole rule, this host only)"),
    el("td", {}, x.method ? `${x.match}, ${x.method} only` : x.match), el("td", { class: "value" }, x.path || ""),
    el("td", { class: "num" }, num(x.hits)), el("td", { class: "num" }, num(x.clients)),
    el("td", {}, x.why || "")));
  const ladder = (w.inbound_ladder || []).map((r) => el("tr", {},
    el("td", { class: "num" }, num(r.threshold)), el("td", { class: "num" }, num(r.before)),
    el("td", { class: "num" }, num(r.after))));
  const levels = (w.paranoia_levels || []).map((r) => el("tr", {},
    el("td", { class: "num" }, num(r.level)), el("td", { class: "num" }, num(r.before)),
    el("td", { class: "num" }, num(r.after))));
  append(main, [
    el("h1", {}, "Tuning: ", name),
    el("p", { class: "meta" }, `${num(answer.events)} requests with findings, CRS ${answer.crs_version || "?"}, `,
      `paranoia level ${answer.paranoia_level ?? "?"}, engine ${answer.engine}`,
      answer.truncated ? " (truncated: only the newest were read)" : ""),
    windowPicker(windowLabel, (x) => [["tuning", name], { window: x }]),
    el("p", { class: "verdict " + answer.verdict, id: "verdict" }, VERDICT_TEXT[answer.verdict] || answer.verdict,
      answer.verdict_now && answer.verdict_now !== answer.verdict ? ` (as it is now: ${VERDICT_TEXT[answer.verdict_now] || answer.verdict_now})` : ""),
    reasonList(answer.reasons, { id: "verdict-reasons" }),
    el("h2", {}, "What the proposals change"),
    el("div", { class: "cards" },
      card("blocked or would block", w.would_block), card("… after", w.would_block_after),
      card("benign blocked", w.benign_blocked), card("… after", w.benign_blocked_after),
      card("attacks caught", w.attacks_caught), card("… after", w.attacks_caught_after)),
    table(["inbound threshold", "blocks before", "after"], ladder, { id: "ladder" }),
    levels.length ? table(["blocking paranoia level", "blocks before", "after"], levels, { id: "paranoia-levels" }) : null,
    reasonList(w.caveats, { id: "caveats", class: "caveats" }),
    el("h2", {}, "Proposed exclusions"),
    el("p", { class: "meta" }, "Write them to a file to Include before the CRS with ",
      el("code", {}, `modsec-observe tune --vhost ${name} --window ${windowLabel} --output FILE --check-config /etc/apache2/apache2.conf`),
      " (ids from your range, kept across reruns; Apache's configtest run on it)."),
    table(["rule", "target", "scope", "path", "hits", "clients", "why"], exclusions, { id: "exclusions" }),
    exclusionFile(name, windowS),
    answer.skipped.length ? el("p", { class: "meta" }, `${answer.skipped.length} groups could not be written safely: `,
      answer.skipped.map((k) => `${k.rule} ${k.target} (${k.reason})`).join("; ")) : null,
    el("h2", {}, "Groups (every finding that raised a score)"),
    table(["rule", "target", "path", "method", "label", "hits", "requests", "clients", "why"], groups, { id: "groups" }),
  ]);
}

// The exclusion file of the proposals, as the daemon renders it (/api/tune_file: the
// CLI's code, every value checked again there): a download link, a Copy button, and the
// text in a collapsed <pre>, fetched when first wanted (it repeats the analysis) and only
// ever set as textContent.
function exclusionFile(name, windowS) {
  const url = "/api/tune_file?" + new URLSearchParams({ vhost: name, window: String(windowS) });
  const pre = el("pre", { class: "file", id: "exclusion-file" });
  const status = el("span", { class: "meta", id: "exclusion-file-status" });
  let text = null;
  const load = async () => {
    if (text !== null) return text;
    const response = await fetch(url);
    if (!response.ok) {
      const answer = await response.json().catch(() => ({}));
      throw new Error("tune_file: " + (answer.error || response.status));
    }
    text = await response.text();
    pre.textContent = text;
    return text;
  };
  const show = () => load().catch((e) => { status.className = "error"; status.textContent = String(e.message || e); });
  const details = el("details", { id: "exclusion-file-details", ontoggle: () => { if (details.open) show(); } },
    el("summary", {}, "The exclusion file"), pre);
  const select = () => {
    details.open = true;
    const range = document.createRange();
    range.selectNodeContents(pre);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  };
  const copy = async () => {
    status.className = "meta";
    try {
      await load();
    } catch (e) {
      status.className = "error";
      status.textContent = String(e.message || e);
      return;
    }
    try {
      await navigator.clipboard.writeText(text);
      status.textContent = "copied";
    } catch {
      select(); // no clipboard (permission, or not a secure context): the text, selected
      status.textContent = "selected: press Ctrl+C to copy";
    }
  };
  return el("div", { class: "exclusion-file" },
    el("p", {},
      el("a", { href: url, download: "", id: "download-exclusion-file" }, "Download the exclusion file"), " ",
      el("button", { type: "button", id: "copy-exclusion-file", onclick: copy }, "Copy"), " ", status),
    el("p", { class: "meta" }, "Rendered by the collector as the command above renders it, but with ids from 10000 ",
      "and none kept from an earlier file: for ids kept across reruns and checked against the rules Apache loads, use the command."),
    details);
}

// ---- Health ----

export async function health(main) {
  const answer = await api("health");
  const rows = [];
  const add = (prefix, object) => {
    for (const [k, v] of Object.entries(object)) {
      if (k === "ok") continue;
      if (v && typeof v === "object") add(prefix + k + ".", v);
      else rows.push(el("tr", {}, el("th", {}, prefix + k), el("td", { class: "value" }, typeof v === "number" ? num(v) : String(v))));
    }
  };
  add("", answer);
  // Where events come from, and each source's refusals and clock skew, as on the Overview.
  const sourcesSection = el("section", { id: "sources-section" });
  append(main, [el("h1", {}, "Health"), el("table", { class: "fields", id: "health" }, el("tbody", {}, rows)),
    sourcesSection]);
  await sources(sourcesSection, () => !main.contains(sourcesSection));
}

export { clear };
