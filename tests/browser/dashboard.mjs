// Drives Debian's chromium (playwright-core, no bundled browser) through every view of
// the dashboard served by a real collector, and prints one JSON report on stdout:
// {"failures": [...], "console_errors": [...], "facts": {...}}. Started by
// tests/integration/test_dashboard.py, which owns the sandbox, sent the traffic and
// checks the report; this script also sends the live view's requests itself, while
// the view is open.
//
//   node dashboard.mjs CONFIG_JSON
//   CONFIG: {"url", "apache_port", "vhost", "xss_vhost", "xss_texts": [...],
//            "rule", "tuned_vhost", "shots": DIR, "chromium": PATH}
import { execFileSync } from "node:child_process";
import http from "node:http";
import { chromium } from "playwright-core";

const config = JSON.parse(process.argv[2]);
const WAIT = 60_000; // generous: a loaded machine must pass
const failures = [];
const consoleErrors = [];
const facts = {};

function check(condition, what) {
  if (!condition) failures.push(what);
  return condition;
}

function sendToApache(host, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: config.apache_port, path,
      headers: { Host: host, "User-Agent": "dashboard-test", ...headers } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("error", reject);
    req.end();
  });
}

const browser = await chromium.launch({
  executablePath: config.chromium,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
page.setDefaultTimeout(WAIT);
page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
page.on("pageerror", (e) => consoleErrors.push("pageerror: " + e.message));
// Any request that leaves the collector (a CDN, an injected image) is a failure.
const sparkRequests = [];
page.on("request", (r) => {
  if (r.url().includes("/api/timeseries?") && r.url().includes("window=3600")) sparkRequests.push(r.url());
  if (!r.url().startsWith(config.url) && !r.url().startsWith("data:")) {
    failures.push("request left the dashboard: " + r.url());
  }
});

async function open(hash) {
  await page.goto(config.url + "/" + hash);
  await page.waitForSelector(`main[data-ready="true"]`);
  check(await page.$("main p.error") === null,
    `${hash}: error shown: ${await page.$eval("main p.error", (e) => e.textContent).catch(() => "")}`);
}

async function xssNeverRan(where) {
  const flag = await page.evaluate(() => window.__xss);
  check(flag === undefined, `${where}: window.__xss was set to ${flag}: a payload ran`);
  const injected = await page.evaluate(() =>
    document.querySelectorAll("main img, main script, main iframe, main svg").length);
  check(injected === 0, `${where}: ${injected} injected elements in <main>`);
}

async function api(path) {
  return page.evaluate(async (p) => (await fetch(p)).json(), path);
}

// The API's answer once `ready(answer)` (history is written in batches), or the last
// answer after WAIT.
async function apiUntil(path, ready) {
  const deadline = Date.now() + WAIT;
  for (;;) {
    const answer = await api(path);
    if (ready(answer) || Date.now() > deadline) return answer;
    await page.waitForTimeout(250);
  }
}

async function shot(name) {
  await page.screenshot({ path: `${config.shots}/${name}.png`, fullPage: true });
}

// The overview's sparklines: a canvas in every visible row's last-hour cell (from one
// timeseries request listing the visible rows' vhosts, none for the other pages).
async function checkSparklines(where) {
  const rows = await page.$$eval("#vhosts tbody tr", (r) => r.length);
  await page.waitForFunction((n) => document.querySelectorAll("#vhosts tbody tr td.spark canvas").length === n ||
    document.querySelectorAll("#vhosts tbody tr td.spark[data-error]").length > 0, rows);
  const canvases = await page.$$eval("#vhosts tbody tr", (rs) => rs.map((r) => r.querySelectorAll("td.spark canvas").length));
  check(canvases.length > 0 && canvases.every((n) => n === 1), `${where}: sparkline canvases per row ${canvases}`);
  const failed = await page.$$eval("#vhosts td.spark[data-error]", (c) => c.map((x) => x.dataset.error));
  check(failed.length === 0, `${where}: sparklines failed: ${failed}`);
  // Each sparkline: 61 minute points, and the sums of the API's last hour for its vhost.
  const cells = await page.$$eval("#vhosts td.spark", (c) => c.map((x) => [x.dataset.vhost, x.dataset.points, x.dataset.sums]));
  const q = cells.map(([v]) => `vhosts=${encodeURIComponent(v)}`).join("&");
  // Asked from node, not the page: the tests count the page's own sparkline requests.
  const answer = await (await fetch(`${config.url}/api/timeseries?${q}&window=3600&resolution=minute`)).json();
  const series = new Map(answer.series.map((x) => [x.vhost, x.points]));
  const wrong = cells.filter(([v, points, sums]) => points !== "61" ||
    sums !== ["requests", "flagged"].map((f) => (series.get(v) || []).reduce((t, p) => t + (p[f] || 0), 0)).join(","));
  check(wrong.length === 0, `${where}: sparklines unlike the API (vhost, points, sums): ${JSON.stringify(wrong.slice(0, 3))}`);
  return canvases.length;
}

// The sums of a histogram's counts, as recordPlotted() writes them.
const histogramSums = (...hs) => hs.map((h) => (h.counts || []).reduce((t, n) => t + n, 0)).join(",");

async function rowTexts(selector) {
  return page.$$eval(selector + " tbody tr", (rows) => rows.map((r) => r.textContent));
}

// The Rule view on screen against the API: header, the hits plot and its total, each
// vhost's paths and targets, the example events. Returns what it saw.
async function checkRuleView(rule, vhost) {
  const q = `rule=${encodeURIComponent(rule)}` + (vhost ? `&vhost=${encodeURIComponent(vhost)}` : "");
  // The lists per vhost come from the windowed answer (history), the message from memory's.
  const [rules, windowed, series, events] = await Promise.all([
    api(`/api/rules?${q}`), api(`/api/rules?${q}&window=86400`),
    api(`/api/timeseries?${q}&window=86400&resolution=minute`),
    api(`/api/events?${q}&window=86400&limit=20`)]);
  const where = `rule ${rule}${vhost ? " on " + vhost : ""}`;
  check(await page.$eval("#rule-id", (e) => e.textContent) === rule, `${where}: header id`);
  const top = [...rules.rules].sort((a, b) => b.hits - a.hits)[0];
  check(top !== undefined, `${where}: the API has no row for the rule`);
  const msg = await page.$eval("#rule-msg", (e) => e.textContent);
  check(top && msg.startsWith(top.msg), `${where}: message ${msg}, API ${top && top.msg}`);
  await page.waitForSelector("#rule-timeseries canvas");
  const legend = await page.$$eval("#rule-timeseries .u-legend .u-series", (s) => s.map((x) => x.textContent));
  check(legend.length === 2 && legend[1].includes("hits"), `${where}: plot series ${legend}`);
  const painted = await page.$eval("#rule-timeseries canvas", (c) => {
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
    return n;
  });
  check(painted > 0, `${where}: the plot's canvas is empty`);
  const hitsInWindow = series.series.flatMap((s) => s.points).reduce((t, p) => t + p.rule_hits, 0);
  const cards = await page.$$eval(".card", (cs) => cs.map((c) => [c.querySelector(".label").textContent, c.querySelector(".value").textContent]));
  const shownHits = (cards.find(([label]) => label === "hits in 24h") || [])[1];
  check(hitsInWindow > 0 && shownHits === hitsInWindow.toLocaleString("en-US"),
    `${where}: hits in 24h shown ${shownHits}, API ${hitsInWindow}`);
  const plottedHits = await page.$eval("#rule-timeseries", (d) => [d.dataset.points, d.dataset.sums]);
  check(plottedHits[0] === "1441" && plottedHits[1] === String(hitsInWindow),
    `${where}: hits plot has ${plottedHits[0]} points summing to ${plottedHits[1]}, API ${hitsInWindow} over 1441 minutes`);
  // Paths and targets per vhost, as the API lists them (value and count, in order).
  const sections = await page.$$eval("section.rule-vhost", (ss) => ss.map((s) => ({
    vhost: s.dataset.vhost,
    paths: [...s.querySelectorAll("table.rule-paths tbody tr")].map((r) => [r.cells[0].textContent, r.cells[1].textContent]),
    targets: [...s.querySelectorAll("table.rule-targets tbody tr")].map((r) => [r.cells[0].textContent, r.cells[1].textContent]),
    matrix: s.querySelector("table.rule-pairs") && {
      targets: [...s.querySelectorAll("table.rule-pairs thead th")].slice(1).map((h) => h.textContent),
      rows: [...s.querySelectorAll("table.rule-pairs tbody tr")].map((r) => [...r.cells].map((c) => c.textContent)),
    },
  })));
  check(sections.length === windowed.rules.length, `${where}: ${sections.length} vhost sections, API ${windowed.rules.length}`);
  const heading = await page.$eval("#rule-where", (e) => e.textContent);
  check(heading.includes("in 24h"), `${where}: lists heading ${heading}`);
  const pairs = (list) => JSON.stringify(list.map((t) => [t.value, t.count.toLocaleString("en-US")]));
  let matrixCells = 0;
  for (const r of windowed.rules) {
    check(Array.isArray(r.top_paths) && r.top_paths.length > 0, `${where} ${r.vhost}: no windowed top_paths in the API`);
    const s = sections.find((x) => x.vhost === r.vhost);
    if (!check(s !== undefined, `${where}: no section for ${r.vhost}`)) continue;
    check(JSON.stringify(s.paths) === pairs(r.top_paths), `${where} ${r.vhost}: paths ${JSON.stringify(s.paths)} != API ${pairs(r.top_paths)}`);
    check(JSON.stringify(s.targets) === pairs(r.top_targets), `${where} ${r.vhost}: targets ${JSON.stringify(s.targets)} != API ${pairs(r.top_targets)}`);
    // Paths × targets: every cell is the API's pair count, or empty where it has no pair;
    // the most frequent pair is on screen.
    if (!check(Array.isArray(r.top_pairs) && r.top_pairs.length > 0 && s.matrix, `${where} ${r.vhost}: no paths × targets (API ${JSON.stringify(r.top_pairs)})`)) continue;
    const api = new Map(r.top_pairs.map((p) => [JSON.stringify([p.path, p.target]), p.count.toLocaleString("en-US")]));
    for (const [path, ...cells] of s.matrix.rows) {
      cells.forEach((shown, i) => {
        const want = api.get(JSON.stringify([path, s.matrix.targets[i]])) || "";
        check(shown === want, `${where} ${r.vhost}: ${path} × ${s.matrix.targets[i]} shows "${shown}", API "${want}"`);
        if (shown !== "") matrixCells++;
      });
    }
    const first = r.top_pairs[0];
    check(s.matrix.rows.some(([path]) => path === first.path) && s.matrix.targets.includes(first.target),
      `${where} ${r.vhost}: the most frequent pair ${first.path} × ${first.target} is not shown`);
  }
  const ids = await page.$$eval("#rule-events tbody tr td:first-child a",
    (a) => a.map((x) => decodeURIComponent(x.getAttribute("href").split("/").pop().split("?")[0])));
  check(ids.length > 0 && JSON.stringify(ids) === JSON.stringify(events.events.map((e) => e.unique_id)),
    `${where}: example events ${ids} != API ${events.events.map((e) => e.unique_id)}`);
  return {
    vhosts: sections.map((s) => s.vhost), hitsInWindow,
    paths: sections.flatMap((s) => s.paths.map(([v]) => v)), targets: sections.flatMap((s) => s.targets.map(([v]) => v)),
    matrixCells, matrixTargets: sections.flatMap((s) => (s.matrix ? s.matrix.targets : [])),
  };
}

async function overviewPaging() {
  // 1,000 vhosts: 50 a page, the pager walks them, sorting spans every page.
  const started = Date.now();
  await open("#/");
  facts.overview_first_render_ms = Date.now() - started;
  const rows = async () => page.$$eval("#vhosts tbody tr td:first-child", (c) => c.map((x) => x.textContent));
  const first = await rows();
  facts.page_rows = first.length;
  facts.spark_canvases = await checkSparklines("overview page 1");
  facts.pager = await page.$eval(".pager .page", (e) => e.textContent);
  check(first.length === 50, `page 1 has ${first.length} rows`);
  check(facts.pager === `page 1 of ${Math.ceil(config.expect_vhosts / 50)}`, `pager says ${facts.pager}`);
  // One request listed exactly this page's vhosts (it was made before the canvases).
  facts.spark_requests = sparkRequests.length;
  const asked = sparkRequests.flatMap((u) => new URL(u).searchParams.getAll("vhosts"));
  facts.spark_vhosts = asked.length;
  check(sparkRequests.length === 1, `sparklines made ${sparkRequests.length} requests, not 1`);
  check(sparkRequests.every((u) => !new URL(u).searchParams.has("vhost")),
    "a sparkline request asked for one vhost");
  check(asked.length === first.length && first.every((v) => asked.includes(v)),
    `sparklines asked for ${asked.length} vhosts, off the page: ${asked.filter((v) => !first.includes(v))}`);
  await page.click("text=next ›");
  await page.waitForFunction(() => location.hash.includes("page=2"));
  await page.waitForSelector(`main[data-ready="true"]`);
  const second = await rows();
  check(second.length === 50 && !second.some((v) => first.includes(v)), "page 2 repeats page 1");
  await page.click("#vhosts thead th:nth-child(2) a"); // by requests, most first
  await page.waitForSelector(`main[data-ready="true"]`);
  const byRequests = await rows();
  check(byRequests[0] === config.busiest, `the busiest vhost is not first: ${byRequests[0]}`);
  await shot("overview-1000");
}

async function walkEveryView() {
  // ---- Overview: every vhost of `stats`, sortable.
  await open("#/");
  const stats = await api("/api/vhosts");
  const names = await page.$$eval("#vhosts tbody tr td:first-child", (c) => c.map((x) => x.textContent));
  facts.overview_vhosts = names;
  check(names.length === stats.vhosts.length, `overview lists ${names.length} vhosts, stats ${stats.vhosts.length}`);
  // The engine column: each vhost's SecRuleEngine, as the module said it.
  facts.overview_engines = Object.fromEntries(await page.$$eval("#vhosts tbody tr",
    (rows) => rows.map((r) => [r.cells[0].textContent, r.cells[5].textContent])));
  facts.overview_sparklines = await checkSparklines("overview");
  // Each row's counts as the API's (counter reports may land between the two reads:
  // read both again, a few times, until they agree).
  const sortedJson = (o) => JSON.stringify(Object.keys(o).sort().map((k) => [k, o[k]]));
  let countsGot = {}, countsWant = {};
  for (let attempt = 0; attempt < 5; attempt++) {
    if (attempt > 0) {
      await page.reload();
      await page.waitForSelector(`main[data-ready="true"]`);
    }
    countsGot = Object.fromEntries(await page.$$eval("#vhosts tbody tr", (rows) => rows.map((r) =>
      [r.cells[0].textContent, [1, 2, 3, 4].map((i) => r.cells[i].textContent.replace(/[^0-9]/g, "")).join(",")])));
    countsWant = Object.fromEntries((await api("/api/vhosts")).vhosts.map((v) =>
      [v.vhost, [v.requests, v.flagged, v.intercepted, v.would_block].join(",")]));
    if (sortedJson(countsGot) === sortedJson(countsWant)) break;
  }
  facts.overview_counts = countsGot;
  check(sortedJson(countsGot) === sortedJson(countsWant),
    `overview counts ${sortedJson(countsGot)}, API ${sortedJson(countsWant)}`);
  // The sources under the vhosts, as `sources` lists them.
  await page.waitForSelector(`#sources-section[data-ready="true"]`);
  const sourcesAnswer = await api("/api/sources");
  facts.overview_sources = await page.$$eval("#sources tbody tr", (rows) =>
    rows.map((r) => [r.cells[0].textContent, r.cells[1].textContent]));
  check(JSON.stringify(facts.overview_sources.map((r) => r[0])) === JSON.stringify(sourcesAnswer.sources.map((x) => x.source)),
    `overview sources ${JSON.stringify(facts.overview_sources)}, API ${JSON.stringify(sourcesAnswer.sources.map((x) => x.source))}`);
  check(await page.$(`#sources a[href="#/events?source=module"]`) !== null, "the module source links to its events");
  await shot("overview");
  await page.click("#vhosts thead th:nth-child(1) a"); // sort by name, descending
  await page.waitForSelector(`main[data-ready="true"]`);
  const sorted = await page.$$eval("#vhosts tbody tr td:first-child", (c) => c.map((x) => x.textContent));
  check(JSON.stringify(sorted) === JSON.stringify([...names].sort().reverse()),
    `sorting by vhost gave ${sorted}`);

  // ---- Vhost: the plot with its four series, top rules and lists.
  await open(`#/vhost/${encodeURIComponent(config.vhost)}?window=24h`);
  await page.waitForSelector("#timeseries canvas");
  facts.plot_series = await page.$$eval("#timeseries .u-legend .u-series", (s) => s.length);
  check(facts.plot_series === 5, `plot has ${facts.plot_series} series (x + 4 expected)`);
  facts.plot_painted = await page.$eval("#timeseries canvas", (c) => {
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let painted = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) painted++;
    return painted;
  });
  check(facts.plot_painted > 0, "the plot's canvas is empty");
  // Its points: one a minute over 24 hours, and per series the sum of the API's points.
  const ts = (await api(`/api/timeseries?vhost=${encodeURIComponent(config.vhost)}&window=86400&resolution=minute`)).series[0].points;
  const apiSums = ["requests", "flagged", "intercepted", "would_block"].map((f) => ts.reduce((t, p) => t + (p[f] || 0), 0)).join(",");
  facts.plot_points = await page.$eval("#timeseries", (d) => ({ points: Number(d.dataset.points), sums: d.dataset.sums }));
  check(facts.plot_points.points === 1441, `the 24 h plot has ${facts.plot_points.points} points, not 1441`);
  check(facts.plot_points.sums === apiSums, `plotted sums ${facts.plot_points.sums}, API ${apiSums}`);
  await page.waitForSelector("#scores canvas");
  facts.score_series = await page.$$eval("#scores .u-legend .u-series", (s) => s.length);
  check(facts.score_series === 3, `score histogram has ${facts.score_series} series (x + 2 expected)`);
  // Per paranoia level: a histogram for each level whose rules raised a score, as the API.
  const allTime = (await api(`/api/stats?vhost=${encodeURIComponent(config.vhost)}&rules_limit=1&score_levels=true`)).vhosts[0].scores;
  const raised = allTime.inbound_pl.map((h, i) => (h.sum > 0 || allTime.outbound_pl[i].sum > 0 ? i + 1 : 0)).filter(Boolean);
  await page.waitForFunction((n) => document.querySelectorAll("#scores-pl canvas").length >= n, raised.length);
  facts.score_levels = await page.$$eval("#scores-pl .plot", (p) => p.map((x) => Number(x.dataset.pl)));
  check(JSON.stringify(facts.score_levels) === JSON.stringify(raised), `levels plotted ${facts.score_levels}, API raised ${raised}`);
  facts.score_level_series = await page.$$eval("#scores-pl .plot", (p) => p.map((x) => x.querySelectorAll(".u-legend .u-series").length));
  check(facts.score_level_series.every((n) => n === 3), `level histograms' series ${facts.score_level_series}`);
  facts.score_level_painted = await page.$$eval("#scores-pl canvas", (cs) => cs.map((c) => {
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let painted = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) painted++;
    return painted;
  }));
  check(facts.score_level_painted.every((n) => n > 0), `an empty level histogram: ${facts.score_level_painted}`);
  // Their bins and counts, and the all-levels histogram's, as the API's.
  const bins = String(allTime.inbound.bounds.length + 1);
  const plotted = await page.$eval("#scores", (d) => [d.dataset.points, d.dataset.sums]);
  check(JSON.stringify(plotted) === JSON.stringify([bins, histogramSums(allTime.inbound, allTime.outbound)]),
    `score histogram plotted ${plotted}, API ${bins} bins, ${histogramSums(allTime.inbound, allTime.outbound)}`);
  for (const pl of raised) {
    const got = await page.$eval(`#scores-pl .plot[data-pl="${pl}"]`, (d) => [d.dataset.points, d.dataset.sums]);
    const want = [bins, histogramSums(allTime.inbound_pl[pl - 1], allTime.outbound_pl[pl - 1])];
    check(JSON.stringify(got) === JSON.stringify(want), `PL ${pl} histogram plotted ${got}, API ${want}`);
  }
  facts.score_histogram_plotted = plotted;
  facts.score_levels_quiet = await page.$eval("#scores-pl-quiet", (p) => p.textContent).catch(() => "");
  const vstats = await api(`/api/stats?vhost=${encodeURIComponent(config.vhost)}&window=86400&rules_limit=20`);
  const ruleRows = await rowTexts("#rules");
  facts.vhost_rules = ruleRows.length;
  check(ruleRows.length === vstats.vhosts[0].rules.length,
    `top rules: ${ruleRows.length} rows, API ${vstats.vhosts[0].rules.length}`);
  check(ruleRows.some((t) => t.includes(config.rule)), `rule ${config.rule} not among the top rules`);
  facts.top_clients = await rowTexts("#top-clients");
  check(facts.top_clients.length > 0, "no top clients");
  // Each top list as the API's (asked as the page asks: with history, 24 h, lists kept
  // up to 10 s, so both get the same counting).
  facts.top_lists = {};
  for (const list of ["clients", "paths", "agents", "targets"]) {
    const want = (await api(`/api/top?list=${list}&vhost=${encodeURIComponent(config.vhost)}&window=86400&limit=10&max_age=10`))
      .top.map((t) => [t.value, String(t.count)]);
    const got = await page.$$eval(`#top-${list} tbody tr`,
      (rows) => rows.map((r) => [r.cells[0].textContent, r.cells[1].textContent.replace(/[^0-9]/g, "")]));
    check(JSON.stringify(got) === JSON.stringify(want), `top ${list}: shown ${JSON.stringify(got)}, API ${JSON.stringify(want)}`);
    facts.top_lists[list] = got.length;
  }
  facts.vhost_engine = await page.$eval("#engine", (p) => p.textContent).catch(() => "");
  // The window picker: 30 days, one point an hour, the sums of the API's points.
  await page.click(`main .windows a[href*="window=30d"]`);
  await page.waitForFunction(() => location.hash.includes("window=30d") &&
    document.querySelector("main").dataset.ready === "true" &&
    [...document.querySelectorAll("main h2")].some((h) => h.textContent === "Requests per hour"));
  await page.waitForSelector("#timeseries canvas");
  const ts30 = (await api(`/api/timeseries?vhost=${encodeURIComponent(config.vhost)}&window=${30 * 86400}&resolution=hour`)).series[0].points;
  const sums30 = ["requests", "flagged", "intercepted", "would_block"].map((f) => ts30.reduce((t, p) => t + (p[f] || 0), 0)).join(",");
  facts.plot_points_30d = await page.$eval("#timeseries", (d) => ({ points: Number(d.dataset.points), sums: d.dataset.sums }));
  check(facts.plot_points_30d.points === 721, `the 30 d plot has ${facts.plot_points_30d.points} points, not 721`);
  check(facts.plot_points_30d.sums === sums30 && sums30 === apiSums,
    `30 d plotted sums ${facts.plot_points_30d.sums}, API ${sums30} (24 h: ${apiSums})`);
  await shot("vhost-30d");
  await open(`#/vhost/${encodeURIComponent(config.vhost)}?window=24h`);
  // From history the lists may be a kept answer (max_age): the page says when they were counted.
  facts.lists_as_of = await page.$eval("#lists-as-of", (p) => p.textContent).catch(() => "");
  check(facts.lists_as_of.startsWith("Lists as of "), `lists' time: "${facts.lists_as_of}"`);
  await shot("vhost");

  // ---- Rule: reached from the vhost's top rules; then across vhosts and on the hostile one.
  await page.click(`#rules a[href^="#/rule/${config.rule}/"]`);
  await page.waitForFunction(() => location.hash.startsWith("#/rule/"));
  await page.waitForSelector(`main[data-ready="true"]`);
  await checkRuleView(config.rule, config.vhost);
  await open(`#/rule/${config.rule}?window=24h`);
  const ruleAll = await checkRuleView(config.rule, "");
  facts.rule_vhosts = ruleAll.vhosts;
  facts.rule_hits_in_window = ruleAll.hitsInWindow;
  facts.rule_pair_cells = ruleAll.matrixCells;
  await shot("rule");
  // An example event links to its detail, which lists the rule's finding.
  const example = await page.$eval("#rule-events tbody tr:first-child td:first-child a", (a) => a.getAttribute("href"));
  await page.click("#rule-events tbody tr:first-child td:first-child a");
  await page.waitForFunction(() => location.hash.startsWith("#/event/"));
  await page.waitForSelector(`main[data-ready="true"]`);
  check(await page.evaluate(() => location.hash) === example, `example link went to ${await page.evaluate(() => location.hash)}`);
  check((await rowTexts("#findings")).some((t) => t.startsWith(config.rule)), "the example event has no finding of the rule");
  check(await page.$(`#findings a[href^="#/rule/${config.rule}/"]`) !== null, "event detail: the rule id is not a link to its view");
  // The hostile vhost: its paths and targets (payloads among them) shown as text, never run.
  await open(`#/rule/${config.rule}/${encodeURIComponent(config.xss_vhost)}?window=24h`);
  await xssNeverRan("rule view of the hostile vhost");
  const hostile = await checkRuleView(config.rule, config.xss_vhost);
  facts.rule_hostile_path = hostile.paths.some((p) => p.includes("img"));
  facts.rule_hostile_target = hostile.targets.some((t) => config.xss_texts.some((x) => t.includes(x)));
  check(facts.rule_hostile_path, `no hostile path among ${hostile.paths}`);
  check(facts.rule_hostile_target, `no hostile target shown literally among ${hostile.targets}`);
  facts.rule_hostile_pair_target = hostile.matrixTargets.some((t) => config.xss_texts.some((x) => t.includes(x)));
  // A rule whose matched data is the payload: the example events show it literally.
  const xssFinding = (await api(`/api/events?vhost=${encodeURIComponent(config.xss_vhost)}&limit=50`)).events
    .flatMap((e) => e.rules).find((f) => f.id && config.xss_texts.some((x) => (f.data || "").includes(x)));
  if (check(xssFinding !== undefined, "no finding of the hostile vhost holds a payload in its matched data")) {
    await open(`#/rule/${xssFinding.id}/${encodeURIComponent(config.xss_vhost)}?window=24h`);
    await xssNeverRan(`rule ${xssFinding.id} of the hostile vhost`);
    const data = await page.$$eval("#rule-events tbody tr td:last-child", (c) => c.map((x) => x.textContent));
    check(data.some((d) => config.xss_texts.some((x) => d.includes(x))), `rule ${xssFinding.id}: payload not shown literally in ${data}`);
    facts.rule_hostile_data = xssFinding.id;
  }
  await shot("rule-hostile");

  // ---- Events: filters and paging give what the API gives.
  await open(`#/events?vhost=${encodeURIComponent(config.vhost)}&limit=2`);
  const page1 = await api(`/api/events?vhost=${encodeURIComponent(config.vhost)}&limit=2`);
  const ids = async () => page.$$eval("#events tbody tr td:first-child a",
    (a) => a.map((x) => decodeURIComponent(x.getAttribute("href").split("/").pop().split("?")[0])));
  const shown1 = await ids();
  check(JSON.stringify(shown1) === JSON.stringify(page1.events.map((e) => e.unique_id)),
    `events page 1 ${shown1} != API ${page1.events.map((e) => e.unique_id)}`);
  check(Boolean(page1.next), "the API gave no next page for the first 2 events");
  await shot("events");
  await page.click("text=older ›");
  await page.waitForSelector(`main[data-ready="true"]`);
  const page2 = await api(`/api/events?vhost=${encodeURIComponent(config.vhost)}&limit=2&cursor=${encodeURIComponent(page1.next)}`);
  const shown2 = await ids();
  check(JSON.stringify(shown2) === JSON.stringify(page2.events.map((e) => e.unique_id)),
    `events page 2 ${shown2} != API ${page2.events.map((e) => e.unique_id)}`);
  check(shown2.length > 0 && !shown2.some((id) => shown1.includes(id)), "page 2 repeats page 1");
  facts.events_pages = [shown1.length, shown2.length];

  // The form: a rule filter narrows the list exactly as the API does.
  await open("#/events");
  await page.fill("#filters input[name=rule]", config.rule);
  await page.fill("#filters input[name=limit]", "100");
  await page.click("#filters button[type=submit]");
  await page.waitForFunction((r) => location.hash.includes("rule=" + r), config.rule);
  await page.waitForSelector(`main[data-ready="true"]`);
  const byRule = await api(`/api/events?rule=${config.rule}&limit=100`);
  const ruleShown = await rowTexts("#events");
  facts.events_by_rule = ruleShown.length;
  check(ruleShown.length === byRule.events.length && ruleShown.length > 0,
    `rule filter: ${ruleShown.length} rows, API ${byRule.events.length}`);
  check(ruleShown.every((t) => t.includes(config.rule)), "a row without the filtered rule");

  // ---- Event detail: every finding.
  await page.click("#events tbody tr:first-child td:first-child a");
  await page.waitForFunction(() => location.hash.startsWith("#/event/"));
  await page.waitForSelector(`main[data-ready="true"]`);
  const uid = decodeURIComponent(await page.evaluate(() => location.hash.split("/")[2].split("?")[0]));
  const detail = await api(`/api/event?unique_id=${encodeURIComponent(uid)}`);
  const findingRows = await rowTexts("#findings");
  facts.detail_findings = [findingRows.length, detail.event.rules.length];
  check(findingRows.length === detail.event.rules.length && findingRows.length > 0,
    `event detail: ${findingRows.length} findings shown, API ${detail.event.rules.length}`);
  // Each finding's cells are the API's values, in its order.
  const findingCells = await page.$$eval("#findings tbody tr",
    (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  const expectedCells = detail.event.rules.map((r) => [r.id || "–", r.severity || "", String(r.pl ?? ""),
    String(r.score ?? ""), r.target || "", r.data || "", r.msg || "", (r.tags || []).join(" ")]);
  check(JSON.stringify(findingCells) === JSON.stringify(expectedCells),
    `event detail findings ${JSON.stringify(findingCells)} != API ${JSON.stringify(expectedCells)}`);
  check(expectedCells.some((c) => c[5] !== "") && expectedCells.some((c) => c[3] !== "" && c[3] !== "0") &&
    expectedCells.some((c) => c[4] !== "" && c[7] !== ""),
    "the findings compared carry no matched data, score contribution, target or tags");
  // The request's fields: verdict, scores and thresholds, source, as the API says.
  const fieldCells = Object.fromEntries(await page.$$eval("#event-fields tr",
    (rows) => rows.map((r) => [r.cells[0].textContent, r.cells[1].textContent])));
  const ev = detail.event;
  const expectedFields = {
    client: ev.client, status: String(ev.status), source: ev.source, engine: ev.engine,
    verdict: ev.verdict,
    "inbound score": `${ev.scores.inbound} (threshold ${ev.scores.inbound_threshold}; per PL ${ev.scores.inbound_pl.join(" / ")})`,
  };
  for (const [key, value] of Object.entries(expectedFields)) {
    check(fieldCells[key] === value, `event detail ${key}: ${JSON.stringify(fieldCells[key])}, API ${JSON.stringify(value)}`);
  }
  facts.detail_fields = Object.keys(expectedFields).filter((k) => fieldCells[k] === expectedFields[k]);
  await shot("event");

  // since/until as the CLI takes them (a duration back from now or an ISO time in UTC),
  // kept in the URL as typed and sent to the API as epoch seconds.
  const vq = `vhost=${encodeURIComponent(config.vhost)}`;
  await open(`#/events?${vq}&since=1d&limit=100`);
  const sinceShown = await rowTexts("#events");
  const bySince = await api(`/api/events?${vq}&since=${Math.floor(Date.now() / 1000) - 86400}&limit=100`);
  check(sinceShown.length === bySince.events.length && sinceShown.length > 0,
    `since=1d: ${sinceShown.length} rows, API ${bySince.events.length}`);
  check(await page.inputValue("#filters input[name=since]") === "1d", "since not kept as typed in the form");
  await open(`#/events?${vq}&until=2000-01-01T00:00:00Z&limit=100`);
  const untilShown = await rowTexts("#events");
  const byUntil = await api(`/api/events?${vq}&until=946684800&limit=100`);
  check(untilShown.length === 0 && byUntil.events.length === 0,
    `until=2000-01-01: ${untilShown.length} rows, API ${byUntil.events.length}`);
  await page.goto(config.url + "/#/events?since=yesterday");
  await page.waitForSelector(`main[data-ready="true"]`);
  const sinceError = await page.$eval("main p.error", (e) => e.textContent).catch(() => "");
  check(sinceError.includes("since: expected a duration"), `since=yesterday: error shown "${sinceError}"`);
  facts.events_since_until = [sinceShown.length, untilShown.length];

  // Every other filter of the form gives the API's list, with values taken from the
  // stored events themselves.
  const all = (await api("/api/events?limit=100")).events;
  const sample = all.find((e) => e.intercepted) || all[0];
  const msg = ((sample.rules || []).find((r) => r.msg) || { msg: "Attack" }).msg;
  const filterCases = [
    ["client", sample.client], ["path", sample.path], ["status", String(sample.status)],
    ["intercepted", "true"], ["would_block", "false"], ["engine", "on"],
    ["source", sample.source || "module"], ["window", "1h"], ["grep", msg.slice(0, 12)],
  ];
  facts.events_filters_narrowing = [];
  for (const [key, value] of filterCases) {
    const q = `${key}=${encodeURIComponent(value)}&limit=100`;
    await open(`#/events?${q}`);
    const shown = await ids();
    const expected = (await api(`/api/events?${q}`)).events.map((e) => e.unique_id);
    check(shown.length > 0 && JSON.stringify(shown) === JSON.stringify(expected),
      `filter ${key}=${value}: shown ${shown.length}, API ${expected.length}`);
    if (expected.length < all.length) facts.events_filters_narrowing.push(key);
  }

  // ---- Hostile data: shown as text, never run, in the list and in each detail.
  await open(`#/events?vhost=${encodeURIComponent(config.xss_vhost)}&limit=50`);
  const xssList = await page.$eval("main", (m) => m.textContent);
  await xssNeverRan("events list");
  const xssEvents = (await api(`/api/events?vhost=${encodeURIComponent(config.xss_vhost)}&limit=50`)).events;
  facts.xss_events = xssEvents.length;
  check(xssEvents.length >= 3, `only ${xssEvents.length} events of the hostile requests`);
  let detailText = "";
  for (const e of xssEvents) {
    await open(`#/event/${encodeURIComponent(e.unique_id)}`);
    await xssNeverRan(`event ${e.unique_id}`);
    detailText += await page.$eval("main", (m) => m.textContent);
  }
  for (const text of config.xss_texts) {
    check(detailText.includes(text), `hostile text not shown literally in the details: ${text}`);
  }
  // Paths as the API gives them (the module keeps them as sent, percent-encoded) are
  // shown verbatim in the list.
  facts.xss_paths = xssEvents.map((e) => e.path);
  for (const e of xssEvents) check(xssList.includes(e.path), `path not shown verbatim: ${e.path}`);
  await open(`#/vhost/${encodeURIComponent(config.xss_vhost)}?window=1h`);
  await xssNeverRan("vhost view of the hostile vhost");
  await shot("xss-event-list");

  // ---- Live: a request sent now shows up; paused, the next one does not.
  await open("#/live");
  await page.waitForFunction(() => document.getElementById("status").textContent === "live");
  const marker = `/live-${Date.now()}?id=${encodeURIComponent("1' OR 1=1--")}`;
  await sendToApache(config.vhost, marker);
  await page.waitForFunction((m) => document.querySelector("#live tbody").textContent.includes(m),
    marker.split("?")[0]);
  // A hostile request as it arrives: its path and user agent are shown as text, never run.
  const hostileStamp = `live-hostile-${Date.now()}`;
  await sendToApache(config.vhost,
    `/${hostileStamp}/${encodeURIComponent(config.xss_texts[0])}?id=${encodeURIComponent("1' OR 1=1--")}`,
    { "User-Agent": config.xss_texts[1] });
  await page.waitForFunction((m) => document.querySelector("#live tbody").textContent.includes(m),
    hostileStamp);
  facts.live_hostile_row = (await rowTexts("#live")).find((t) => t.includes(hostileStamp)) || "";
  await xssNeverRan("live, hostile request");
  facts.live_rows = (await rowTexts("#live")).length;
  await page.click("#pause");
  facts.live_paused_hash = await page.evaluate(() => location.hash);
  const paused = `/paused-${Date.now()}?id=${encodeURIComponent("1' OR 1=1--")}`;
  await sendToApache(config.vhost, paused);
  await page.waitForTimeout(2000); // what is asserted is absence; the request was answered
  check(!(await page.$eval("#live tbody", (b) => b.textContent)).includes(paused.split("?")[0]),
    "the paused live view still received an event");
  check(await rowTexts("#live").then((r) => r.length) === facts.live_rows, "pausing cleared the rows");
  await xssNeverRan("live");

  // Filtered through the form: only the vhost's requests with the rule; the filters and
  // the paused state are in the URL, and a reload keeps them.
  await page.click("#pause"); // resume
  facts.live_resumed_hash = await page.evaluate(() => location.hash);
  await page.fill("#live-filters input[name=vhost]", config.vhost);
  await page.fill("#live-filters input[name=rule]", config.rule);
  await page.click("#live-filters button[type=submit]");
  await page.waitForFunction(() => location.hash.includes("rule="));
  await page.waitForSelector(`main[data-ready="true"]`);
  await page.waitForFunction(() => document.getElementById("status").textContent === "live");
  facts.live_filter_hash = await page.evaluate(() => location.hash);
  const stamp = Date.now();
  const otherVhost = `/other-vhost-${stamp}?id=${encodeURIComponent("1' OR 1=1--")}`;
  const otherRule = `/other-rule-${stamp}?q=${encodeURIComponent("<script>alert(1)</script>")}`;
  const wanted = `/wanted-${stamp}?id=${encodeURIComponent("1' OR 1=1--")}`;
  await sendToApache(config.xss_vhost, otherVhost);
  await sendToApache(config.vhost, otherRule);
  await sendToApache(config.vhost, wanted);
  await page.waitForFunction((m) => document.querySelector("#live tbody").textContent.includes(m),
    wanted.split("?")[0]);
  await page.waitForTimeout(2000); // the others were sent first; give them time to (not) come
  const filtered = await rowTexts("#live");
  facts.live_filtered_rows = filtered.length;
  check(filtered.length === 1 && filtered[0].includes(wanted.split("?")[0]),
    `filtered live view shows ${JSON.stringify(filtered)}`);
  // The same events through the API: the two others did arrive, with what the filter excludes.
  const otherEvents = await apiUntil(`/api/events?limit=50&path=${encodeURIComponent(otherVhost.split("?")[0])}`, (a) => a.events.length > 0);
  check(otherEvents.events.length === 1, `the other vhost's request is not an event: ${JSON.stringify(otherEvents).slice(0, 300)}`);
  const ruleEvents = await apiUntil(`/api/events?limit=50&vhost=${encodeURIComponent(config.vhost)}&path=${encodeURIComponent(otherRule.split("?")[0])}`, (a) => a.events.length > 0);
  check(ruleEvents.events.length === 1 && !ruleEvents.events[0].rules.some((r) => r.id === config.rule),
    `the other-rule request: ${JSON.stringify(ruleEvents.events.map((e) => e.rules.map((r) => r.id)))}`);
  await shot("live");
  await page.click("#pause");
  const bookmark = await page.evaluate(() => location.hash);
  facts.live_bookmark = bookmark;
  await page.goto(config.url + "/" + bookmark);
  await page.waitForSelector(`main[data-ready="true"]`);
  facts.live_reloaded = await page.evaluate(() => ({
    vhost: document.querySelector("#live-filters input[name=vhost]").value,
    rule: document.querySelector("#live-filters input[name=rule]").value,
    button: document.getElementById("pause").textContent,
    status: document.getElementById("status").textContent,
  }));
  const afterReload = `/after-reload-${Date.now()}?id=${encodeURIComponent("1' OR 1=1--")}`;
  await sendToApache(config.vhost, afterReload);
  await page.waitForTimeout(2000);
  check(!(await page.$eval("#live tbody", (b) => b.textContent)).includes(afterReload.split("?")[0]),
    "the live view opened paused still received an event");
  await page.click("#pause");
  await page.waitForFunction(() => document.getElementById("status").textContent === "live");
  const resumed = `/resumed-${Date.now()}?id=${encodeURIComponent("1' OR 1=1--")}`;
  await sendToApache(config.vhost, resumed);
  await page.waitForFunction((m) => document.querySelector("#live tbody").textContent.includes(m),
    resumed.split("?")[0]);
  facts.live_after_resume_hash = await page.evaluate(() => location.hash);

  // ---- Tuning: readiness per vhost, then one vhost's groups and proposals, as the API.
  // The live view's last requests reach history after the live view (the writer commits
  // within 250 ms): wait until tune's answer stops changing, so that the page and the
  // API calls below see the same events.
  const tuneUrl = `/api/tune?vhost=${encodeURIComponent(config.vhost)}&window=86400`;
  for (let last = -1, i = 0; i < 30; i++) {
    const n = (await api(tuneUrl)).events;
    if (n === last) break;
    last = n;
    await page.waitForTimeout(1000);
  }
  await open("#/tuning?window=24h");
  const readiness = await api("/api/readiness?window=86400");
  const readyRows = await rowTexts("#readiness");
  facts.readiness_rows = readyRows.length;
  check(readyRows.length === readiness.vhosts.length && readyRows.length > 0,
    `readiness: ${readyRows.length} rows, API ${readiness.vhosts.length}`);
  for (const v of readiness.vhosts) {
    check(readyRows.some((t) => t.startsWith(v.vhost)), `readiness: ${v.vhost} not listed`);
  }
  await shot("tuning");
  await page.click(`#readiness a[href*="${encodeURIComponent(config.vhost)}"]`);
  await page.waitForFunction(() => location.hash.startsWith("#/tuning/"));
  await page.waitForSelector(`main[data-ready="true"]`);
  const tune = await api(tuneUrl);
  const groupRows = await rowTexts("#groups");
  facts.tune_groups = [groupRows.length, tune.groups.length];
  check(groupRows.length === tune.groups.length && groupRows.length > 0,
    `tune: ${groupRows.length} groups shown, API ${tune.groups.length}`);
  check(groupRows.some((t) => t.includes(config.rule)), `tune: rule ${config.rule} not among the groups`);
  facts.tune_exclusions = [(await rowTexts("#exclusions")).length, tune.exclusions.length];
  check(facts.tune_exclusions[0] === facts.tune_exclusions[1],
    `tune: ${facts.tune_exclusions[0]} exclusions shown, API ${facts.tune_exclusions[1]}`);
  const verdictText = await page.$eval("#verdict", (e) => e.className);
  check(verdictText.includes(tune.verdict), `tune: verdict ${verdictText}, API ${tune.verdict}`);
  // The what-if numbers: the six cards and the threshold ladder, as the API's.
  const digits = (t) => t.replace(/[^0-9]/g, "");
  const w = tune.what_if;
  const cardsWant = [w.would_block, w.would_block_after, w.benign_blocked, w.benign_blocked_after,
    w.attacks_caught, w.attacks_caught_after].map((n) => (typeof n === "number" ? String(n) : ""));
  const cardsGot = await page.$$eval("main .cards .card .value", (c) => c.map((x) => x.textContent));
  check(JSON.stringify(cardsGot.map(digits)) === JSON.stringify(cardsWant),
    `tune: what-if cards ${JSON.stringify(cardsGot)}, API ${JSON.stringify(cardsWant)}`);
  const ladderGot = await page.$$eval("#ladder tbody tr", (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  const ladderWant = w.inbound_ladder.map((r) => [String(r.threshold), String(r.before), String(r.after)]);
  check(ladderWant.length > 0 && JSON.stringify(ladderGot.map((r) => r.map(digits))) === JSON.stringify(ladderWant),
    `tune: ladder ${JSON.stringify(ladderGot)}, API ${JSON.stringify(ladderWant)}`);
  facts.tune_what_if = [cardsGot.length, ladderGot.length];
  const levelRows = tune.what_if.paranoia_levels.length ? await rowTexts("#paranoia-levels") : [];
  facts.tune_paranoia_levels = [levelRows.length, tune.what_if.paranoia_levels.length];
  check(levelRows.length === tune.what_if.paranoia_levels.length,
    `tune: ${levelRows.length} paranoia levels shown, API ${tune.what_if.paranoia_levels.length}`);
  await xssNeverRan("tuning");
  await shot("tuning-vhost");
  await open(`#/tuning/${encodeURIComponent(config.xss_vhost)}?window=24h`);
  await xssNeverRan("tuning of the hostile vhost");
  facts.tune_hostile_groups = (await rowTexts("#groups")).length;

  // The exclusion file of a vhost with proposals: the download link, the text in the
  // collapsed <pre> once opened (the collector's rendering, as the API gives it), Copy.
  await open(`#/tuning/${encodeURIComponent(config.tuned_vhost)}?window=24h`);
  facts.exclusion_file_link = await page.$eval("#download-exclusion-file", (a) => a.getAttribute("href"));
  check(await page.$eval("#exclusion-file", (p) => p.textContent) === "", "the file was fetched before it was wanted");
  await page.click("#exclusion-file-details summary");
  await page.waitForFunction(() => document.getElementById("exclusion-file").textContent !== "" ||
    document.getElementById("exclusion-file-status").textContent !== "");
  const fileText = await page.$eval("#exclusion-file", (p) => p.textContent);
  facts.exclusion_file_has_rule = fileText.includes(`SecRule SERVER_NAME "@streq ${config.tuned_vhost}"`);
  check(facts.exclusion_file_has_rule, `the exclusion file has no rule for ${config.tuned_vhost}: ${fileText.slice(0, 400)}`);
  const apiText = await page.evaluate(async (p) => (await fetch(p)).text(), facts.exclusion_file_link);
  // The header names the window's ends, to the second, as of each answer: two fetches a
  // second apart differ there and nowhere else.
  const unstamped = (t) => t.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/g, "<time>");
  facts.exclusion_file_as_api = unstamped(apiText) === unstamped(fileText);
  check(facts.exclusion_file_as_api, "the <pre> differs from /api/tune_file");
  await page.click("#copy-exclusion-file");
  await page.waitForFunction(() => document.getElementById("exclusion-file-status").textContent !== "");
  facts.exclusion_file_copy = await page.$eval("#exclusion-file-status", (s) => s.textContent);
  await xssNeverRan("tuning with the exclusion file");
  await shot("tuning-file");

  // ---- Health.
  await open("#/health");
  const healthRows = await rowTexts("#health");
  facts.health_rows = healthRows.length;
  check(healthRows.some((t) => t.startsWith("datagrams")), "health has no datagrams row");
  // Every value of the API's `health`, flattened, has its row (the values move: the
  // keys are compared, and the ones that do not move while nothing is sent).
  const flat = {};
  const flatten = (prefix, o) => {
    for (const [k, v] of Object.entries(o)) {
      if (k === "ok") continue;
      if (v && typeof v === "object") flatten(prefix + k + ".", v);
      else flat[prefix + k] = v;
    }
  };
  flatten("", await api("/api/health"));
  const shownHealth = Object.fromEntries(await page.$$eval("#health tr", (rows) => rows.map((r) => [r.cells[0].textContent, r.cells[1].textContent])));
  check(JSON.stringify(Object.keys(shownHealth).sort()) === JSON.stringify(Object.keys(flat).sort()),
    `health rows ${Object.keys(shownHealth).sort()}, API ${Object.keys(flat).sort()}`);
  for (const key of ["history.enabled", "ring_capacity", "malformed"]) {
    check(key in flat && shownHealth[key] === (typeof flat[key] === "number" ? flat[key].toLocaleString("en-US") : String(flat[key])),
      `health ${key}: shown ${shownHealth[key]}, API ${flat[key]}`);
  }
  const healthSources = await page.$$eval("#sources tbody tr td:first-child", (c) => c.map((x) => x.textContent));
  facts.health_sources = healthSources;
  const sourcesNow = (await api("/api/sources")).sources.map((x) => x.source);
  check(JSON.stringify(healthSources) === JSON.stringify(sourcesNow.slice(0, 50)),
    `health sources ${JSON.stringify(healthSources)}, API ${JSON.stringify(sourcesNow)}`);
  await shot("health");

  // ---- A malformed address: the page says what is wrong with it, and shows no view of
  // something else than it asks for.
  const badAddresses = [
    [`#/vhost/${encodeURIComponent(config.vhost)}?window=2h`, 'window="2h" in the address: it must be one of 1h, 6h, 24h, 7d, 30d'],
    [`#/rule/${config.rule}?window=90m`, 'window="90m" in the address'],
    ["#/tuning?window=1y", 'window="1y" in the address'],
    ["#/?sort=nope", 'sort="nope" in the address: it must be one of vhost, requests'],
    ["#/?dir=up", 'dir="up" in the address'],
    ["#/?page=abc", 'page="abc" in the address: there is 1 page'],
    ["#/?page=99", 'page="99" in the address'],
    ["#/vhost/%E0%A4%A", "the address has a malformed %-escape: %E0%A4%A"],
  ];
  facts.bad_addresses = [];
  for (const [hash, expected] of badAddresses) {
    await page.goto(config.url + "/" + hash);
    await page.waitForSelector(`main[data-ready="true"]`);
    const shown = await page.$eval("main", (m) => m.textContent);
    const error = await page.$eval("main p.error", (e) => e.textContent).catch(() => "");
    check(error.includes(expected), `${hash}: error ${JSON.stringify(error)}, expected ${JSON.stringify(expected)}`);
    check(shown === error, `${hash}: more than the error shown: ${JSON.stringify(shown.slice(0, 200))}`);
    facts.bad_addresses.push(hash);
  }
}

// A collector without history (--no-history): every view loads without an error and
// without a refused API request; the views that need the store count since the start
// or say so.
async function withoutHistory() {
  const refused = [];
  page.on("response", (r) => {
    if (r.url().includes("/api/") && r.status() >= 400) refused.push(`${r.status()} ${r.url()}`);
  });
  await open("#/");
  await page.waitForSelector(`#sources-section[data-ready="true"]`);
  facts.overview_sparklines = await checkSparklines("overview");
  for (const w of ["24h", "30d"]) {
    await open(`#/vhost/${encodeURIComponent(config.vhost)}?window=${w}`);
    await page.waitForSelector("#timeseries canvas");
    await page.waitForSelector("#scores-pl canvas");
    facts[`vhost_${w}_note`] = await page.$eval("#lists-since-start", (p) => p.textContent).catch(() => "");
    facts[`vhost_${w}_clients`] = (await rowTexts("#top-clients")).length;
    if (w === "24h") await shot("no-history-vhost");
  }
  await open(`#/rule/${config.rule}?window=24h`);
  facts.rule_where = await page.$eval("#rule-where", (e) => e.textContent);
  facts.rule_sections = await page.$$eval("section.rule-vhost", (ss) => ss.map((x) => x.dataset.vhost));
  await open("#/events");
  facts.events_rows = (await rowTexts("#events")).length;
  const first = await page.$eval("#events tbody tr td:first-child a", (a) => a.getAttribute("href"));
  await open(first);
  facts.event_findings = (await rowTexts("#findings")).length;
  for (const hash of ["#/tuning", `#/tuning/${encodeURIComponent(config.vhost)}`]) {
    await open(hash);
    facts[hash.startsWith("#/tuning/") ? "tuning_vhost_note" : "tuning_note"] =
      await page.$eval("#no-history", (p) => p.textContent).catch(() => "");
  }
  await shot("no-history-tuning");
  await open("#/live");
  await page.waitForFunction(() => document.getElementById("status").textContent === "live");
  const marker = `/no-history-${Date.now()}?id=${encodeURIComponent("1' OR 1=1--")}`;
  await sendToApache(config.vhost, marker);
  await page.waitForFunction((m) => document.querySelector("#live tbody").textContent.includes(m),
    marker.split("?")[0]);
  await open("#/health");
  facts.history_enabled = (await api("/api/health")).history.enabled;
  facts.refused = refused;
}

// A rule with more hits in the window than history counts paths and targets of: the
// Rule view says since when its lists count, as the API's `top_since`.
async function topSince() {
  const q = `rule=${encodeURIComponent(config.rule)}&vhost=${encodeURIComponent(config.vhost)}`;
  await open(`#/rule/${encodeURIComponent(config.rule)}/${encodeURIComponent(config.vhost)}?window=24h`);
  const windowed = await api(`/api/rules?${q}&window=86400`);
  facts.api_top_since = (windowed.rules[0] || {}).top_since || null;
  facts.api_hits = (windowed.rules[0] || {}).hits || 0;
  facts.notes = await page.$$eval("section.rule-vhost p.top-since", (ps) => ps.map((p) => p.textContent));
  facts.paths = await page.$$eval("section.rule-vhost table.rule-paths tbody tr", (rs) => rs.length);
  await shot("rule-top-since");
}

// Vhost labels and source names that are payloads (a sensor's label, an import's label
// and source): each view that names them shows them as text, equal to the payload.
async function hostileNames() {
  const sensor = config.sensor_vhost, imported = config.import_vhost, source = config.import_source;
  await open("#/");
  await page.waitForSelector(`#sources-section[data-ready="true"]`);
  facts.overview_vhosts = await page.$$eval("#vhosts tbody tr td:first-child", (c) => c.map((x) => x.textContent));
  facts.overview_history_sources = await page.$$eval("#sources-history a", (a) => a.map((x) => x.textContent));
  await xssNeverRan("overview");
  await shot("hostile-names-overview");
  // The links carry the names encoded: following them lands on the same name.
  await page.click("#vhosts tbody tr td:first-child a");
  await page.waitForSelector(`main[data-ready="true"]`);
  facts.vhost_title = await page.$eval("h1 .name", (e) => e.textContent);
  await page.waitForSelector("#timeseries canvas");
  await xssNeverRan("vhost view");
  await open(`#/rule/${config.rule}?window=24h`);
  facts.rule_sections = (await page.$$eval("section.rule-vhost", (ss) => ss.map((x) => x.dataset.vhost))).sort();
  check(await page.$$eval("section.rule-vhost h3 a", (a) => a.map((x) => x.textContent))
    .then((t) => t.includes(sensor) && t.includes(imported)), "rule view: the labels are not shown as text");
  await xssNeverRan("rule view");
  await open("#/");
  await page.waitForSelector(`#sources-section[data-ready="true"]`);
  await page.click("#sources-history a");
  await page.waitForSelector(`main[data-ready="true"]`);
  facts.events_hash = await page.evaluate(() => location.hash);
  facts.events_vhosts = await page.$$eval("#events tbody tr td:nth-child(2)", (c) => c.map((x) => x.textContent));
  await xssNeverRan("events of the hostile source");
  await page.click("#events tbody tr td:first-child a");
  await page.waitForFunction(() => location.hash.startsWith("#/event/"));
  await page.waitForSelector(`main[data-ready="true"]`);
  const fields = await page.$$eval("#event-fields tr", (rs) => rs.map((r) => [r.cells[0].textContent, r.cells[1].textContent]));
  facts.event_fields = Object.fromEntries(fields.filter(([k]) => k === "vhost" || k === "source"));
  await xssNeverRan("event of the hostile source");
  await shot("hostile-names-event");
  await open("#/tuning?window=24h");
  facts.tuning_vhosts = await page.$$eval("#readiness tbody tr td:first-child", (c) => c.map((x) => x.textContent));
  await xssNeverRan("tuning");
  await open(`#/tuning/${encodeURIComponent(sensor)}?window=24h`);
  await xssNeverRan("tuning of the sensor's label");
  await open("#/health");
  await page.waitForSelector(`#sources-section[data-ready="true"]`);
  const healthText = await page.$eval("#sources-section", (e) => e.textContent);
  facts.health_has_sources = healthText.includes(source) && healthText.includes("module");
  await xssNeverRan("health");
  // Live: a datagram of the sensor's label whose path is a payload as well (the module
  // sends the path as the request line had it), sent once the stream is open.
  await open("#/live");
  await page.waitForFunction(() => document.getElementById("status").textContent === "live");
  execFileSync("/usr/bin/python3", ["-c", "import socket, sys\n" +
    "socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(sys.argv[2].encode(), sys.argv[1])",
    config.event_socket, config.live_datagram]);
  await page.waitForSelector("#live tbody tr");
  facts.live_row = await page.$eval("#live tbody tr", (r) => [...r.cells].map((c) => c.textContent));
  await xssNeverRan("live");
  await shot("hostile-names-live");
}

const modes = { overview_paging: overviewPaging, no_history: withoutHistory, top_since: topSince,
  hostile_names: hostileNames };

try {
  await (modes[config.mode] || walkEveryView)();
} catch (e) {
  failures.push("exception: " + (e.stack || e));
  await shot("failure").catch(() => {});
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify({ failures, console_errors: consoleErrors, facts }) + "\n");
