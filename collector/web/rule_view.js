// The Rule view (#/rule/ID, #/rule/ID/VHOST): one rule's hits over time, where it
// matched in the chosen window (its paths and targets per vhost) and its latest events.
// Built from `rules` (since the start, and over the window from history), `timeseries`
// with `rule` and `events` with `rule` (docs/protocol.md); every value from requests is
// text (dom.js).
import { append, el, link, num, table } from "./dom.js";
import { api, card, keepsHistory, recordPlotted, seriesGrid, verdictOf, windowParam, windowPicker } from "./views.js";

const EXAMPLES = 20;
const MAX_VHOSTS = 20;

export async function rule(main, route) {
  const id = route.args[0] || "";
  const vhost = route.args[1] || "";
  const [windowLabel, windowS] = windowParam(route.params, "24h");
  const resolution = windowS > 86400 ? "hour" : "minute";
  const here = vhost ? ["rule", id, vhost] : ["rule", id];
  const history = await keepsHistory();
  const [rules, windowed, series, examples] = await Promise.all([
    api("rules", { rule: id, vhost }),
    // Only history counts a window's `rules`; without it, the since-start lists.
    history ? api("rules", { rule: id, vhost, window: windowS }).catch(() => null) : null,
    api("timeseries", { rule: id, vhost, window: windowS, resolution }),
    api("events", { rule: id, vhost, window: windowS, limit: EXAMPLES }),
  ]);
  // `rules` without a window: counts since the collector started (severity, paranoia
  // level and matches are only there); with one: the window's hits, paths and targets.
  const byHits = (list) => [...list].sort((a, b) => b.hits - a.hits || a.vhost.localeCompare(b.vhost));
  const rows = byHits(rules.rules);
  const where = windowed ? byHits(windowed.rules) : rows;
  const span = windowed ? `in ${windowLabel}` : "since the collector started";
  const first = rows[0] || {};
  const points = mergePoints(series.series);
  const hitsInWindow = points.reduce((t, p) => t + (p.rule_hits || 0), 0);
  append(main, [
    el("h1", {}, "rule ", el("span", { class: "name", id: "rule-id" }, id),
      vhost ? [" on ", el("span", { class: "name" }, vhost)] : null),
    el("p", { class: "meta", id: "rule-msg" }, first.msg || "(no message seen)",
      first.severity ? ` · ${first.severity}` : "", first.pl ? ` · paranoia level ${first.pl}` : ""),
    el("p", { class: "meta" },
      vhost ? link("every vhost", ["rule", id], { window: windowLabel }) : null,
      vhost ? " · " : null,
      link("all its events", ["events"], { rule: id, vhost, window: windowLabel })),
    windowPicker(windowLabel, (w) => [here, { window: w }]),
    el("div", { class: "cards" },
      card(`hits in ${windowLabel}`, hitsInWindow),
      card("hits since start", rows.reduce((t, r) => t + r.hits, 0)),
      card("matches since start", rows.reduce((t, r) => t + (r.matches || 0), 0)),
      card("vhosts", rows.length)),
  ]);
  const plot = el("div", { class: "plot", id: "rule-timeseries" });
  append(main, [el("h2", {}, `Hits per ${resolution}`), plot]);
  drawHits(plot, points, windowS, resolution);

  append(main, [
    el("h2", { id: "rule-where" }, `Where it matched (${span})`),
    el("p", { class: "meta" }, "Per vhost: requests per path and findings per target (the top 8 of each)",
      windowed ? ", and which targets matched on which paths (findings per path × target)." :
        "; which targets matched on which paths is counted from history (modsec-observed --state-dir)."),
  ]);
  if (where.length === 0) append(main, el("p", { id: "rule-nohits" }, `This rule has not matched ${span}.`));
  for (const r of where.slice(0, MAX_VHOSTS)) append(main, whereMatched(id, r, windowLabel, span));
  if (where.length > MAX_VHOSTS) {
    append(main, el("p", { class: "meta" }, `${where.length - MAX_VHOSTS} more vhosts with fewer hits are not shown.`));
  }

  append(main, [
    el("h2", {}, `Latest events (up to ${EXAMPLES}, ${windowLabel})`),
    examples.events.length === 0 ? el("p", {}, "No event of this rule in this window.") :
      table(["time", "vhost", "client", "request", "status", "verdict", "target", "matched data"],
        examples.events.map((e) => exampleRow(id, e)), { id: "rule-events" }),
  ]);
}

// One vhost's hits and its two lists, side by side.
function whereMatched(id, r, windowLabel, span) {
  const list = (kind, entries, filter) => el("div", {},
    el("h3", {}, `Top ${kind}`),
    entries.length === 0 ? el("p", {}, "None.") :
      table([kind.replace(/s$/, ""), "count"], entries.map((t) => el("tr", {},
        el("td", { class: "value" }, filter ? link(t.value, ["events"], { vhost: r.vhost, rule: id, [filter]: t.value }) : t.value),
        el("td", { class: "num" }, num(t.count)))), { class: "rule-" + kind }));
  return el("section", { class: "rule-vhost", "data-vhost": r.vhost },
    el("h3", {}, link(r.vhost, ["rule", id, r.vhost], { window: windowLabel }), ` · ${num(r.hits)} hits ${span}`,
      r.matches !== undefined ? ` (${num(r.matches)} matches)` : "", `, last ${r.last_seen || "never"} · `,
      link("vhost view", ["vhost", r.vhost], { window: windowLabel })),
    // History counts the newest hits only, up to a bound: say from when.
    r.top_since ? el("p", { class: "meta top-since" }, `Paths and targets of the hits since ${r.top_since} (the newest ones).`) : null,
    el("div", { class: "pair" },
      list("paths", r.top_paths || [], "path"),
      list("targets", r.top_targets || [], null)),
    r.top_pairs ? pathsByTargets(id, r) : null);
}

const MATRIX_PATHS = 8;
const MATRIX_TARGETS = 6;

// The most frequent path × target pairs as a matrix: a row per path, a column per target
// (the most findings among the pairs first), findings in the cells, empty where the pair
// is not among them. Each path links to the rule's events on it.
function pathsByTargets(id, r) {
  const pairs = r.top_pairs;
  const order = (key) => {
    const totals = new Map();
    for (const p of pairs) totals.set(p[key], (totals.get(p[key]) || 0) + p.count);
    return [...totals.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([k]) => k);
  };
  const paths = order("path").slice(0, MATRIX_PATHS);
  const targets = order("target").slice(0, MATRIX_TARGETS);
  const cell = new Map(pairs.map((p) => [p.path + "\u0000" + p.target, p.count]));
  const shown = paths.reduce((t, path) =>
    t + targets.reduce((u, target) => u + (cell.get(path + "\u0000" + target) || 0), 0), 0);
  return el("div", { class: "rule-pairs-box" },
    el("h3", {}, "Paths × targets"),
    pairs.length === 0 ? el("p", {}, "No finding of this rule named a target.") : [
      table([el("span", {}, "path \\ target"), ...targets.map((t) => el("span", { class: "value" }, t))],
        paths.map((path) => el("tr", {},
          el("td", { class: "value" }, link(path, ["events"], { vhost: r.vhost, rule: id, path })),
          targets.map((target) => el("td", { class: "num" }, num(cell.get(path + "\u0000" + target)))))),
        { class: "rule-pairs", "data-cells": shown }),
      el("p", { class: "meta" }, `${num(shown)} findings in the ${paths.length} × ${targets.length} shown, `,
        `of the ${pairs.length} most frequent pairs.`)]);
}

function exampleRow(id, e) {
  const mine = e.rules.filter((f) => f.id === id);
  return el("tr", {},
    el("td", {}, link(e.time || "", ["event", e.unique_id], e.source && e.source !== "module" ? { source: e.source } : {})),
    el("td", {}, e.vhost),
    el("td", {}, e.client),
    el("td", { class: "value" }, `${e.method} ${e.path}${e.query ? "?" + e.query : ""}`),
    el("td", { class: "num" }, e.status),
    el("td", {}, el("span", { class: "verdict " + verdictOf(e) }, verdictOf(e))),
    el("td", { class: "value" }, mine.map((f) => f.target || "").join("\n")),
    el("td", { class: "value" }, mine.map((f) => f.data || "").join("\n")));
}

// The vhosts' points added up by time (without a vhost, one series per vhost comes back).
function mergePoints(series) {
  const byTime = new Map();
  for (const s of series) {
    for (const p of s.points) {
      const sum = byTime.get(p.time) || { time: p.time, rule_hits: 0 };
      sum.rule_hits += p.rule_hits || 0;
      byTime.set(p.time, sum);
    }
  }
  return [...byTime.values()];
}

function drawHits(target, points, windowS, resolution) {
  const data = seriesGrid(points, windowS, resolution, ["rule_hits"]);
  recordPlotted(target, data);
  // eslint-disable-next-line no-undef
  new uPlot({
    width: Math.max(400, target.clientWidth || 900), height: 220,
    series: [{}, { label: "hits", stroke: "#c0392b", fill: "rgba(192,57,43,0.15)", width: 1.5 }],
    axes: [{}, { size: 60 }],
  }, data, target);
}
