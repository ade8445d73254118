// The WFM view (#wfm): the adherence grid (agent, scheduled, actual, status, time out,
// adherence % today) and per queue a chart of forecast vs actual volume and required vs
// staffed agents through the day, drawn as SVG by hand. Text only via textContent.
// Figures: docs/metrics.md section 5; entry shapes: docs/live-state.md.
import { $, reconcile, setText } from "./dom.js";
import { formatDuration, formatPercent, isNumber } from "./format.js";

const NS = "http://www.w3.org/2000/svg";
const STATUS_TEXT = { in: "In", grace: "Out < threshold", out: "Out", unscheduled: "Not scheduled" };
const STATUS_ORDER = { out: 0, grace: 1, in: 2, unscheduled: 3 };
const rows = new Map(); // agent id -> {root, cells, entry}
const charts = new Map(); // queue -> {root, svg, fields}

function cell(tr, className) {
  const td = document.createElement("td");
  td.className = className;
  tr.append(td);
  return td;
}

function createRow(id) {
  const root = document.createElement("tr");
  root.dataset.agent = id;
  const cells = {};
  for (const name of ["agent", "scheduled", "actual", "status", "time_out", "adherence"]) {
    cells[name] = cell(root, `wfm-${name.replace("_", "-")}`);
  }
  return { root, cells, entry: null };
}

/** Figures of an adherence entry at stream time `now` (docs/live-state.md: ticking). */
export function adherenceAt(entry, now, exceptionS) {
  const elapsed = isNumber(now) && isNumber(entry.since_epoch)
    ? Math.max(0, now - entry.since_epoch) : 0;
  const ticking = entry.ticking ?? {};
  let status = entry.status;
  let outFor = null;
  if ((status === "grace" || status === "out") && isNumber(entry.out_since_epoch) && isNumber(now)) {
    outFor = Math.max(0, now - entry.out_since_epoch);
    if (status === "grace" && outFor >= exceptionS) status = "out";
  }
  const scheduled = entry.scheduled_s + (ticking.scheduled ? elapsed : 0);
  let adherent = entry.adherent_s + (ticking.adherent ? elapsed : 0);
  if (status === "out" && entry.status === "grace" && outFor !== null) {
    adherent -= outFor; // the exception now counts whole
  }
  return { status, outFor, adherence: scheduled > 0 ? Math.max(0, adherent) / scheduled : null };
}

function actualText(entry) {
  const state = String(entry.state ?? "—").replace("_", " ");
  return entry.reason ? `${state} · ${entry.reason}` : state;
}

function updateRow(row, entry, now, thresholds) {
  row.entry = entry;
  const { cells } = row;
  setText(cells.agent, entry.name ? `${entry.name} (${row.root.dataset.agent})` : row.root.dataset.agent);
  setText(cells.scheduled, entry.scheduled ?? "—");
  setText(cells.actual, actualText(entry));
  tickRow(row, now, thresholds);
}

function tickRow(row, now, thresholds) {
  const entry = row.entry;
  const figures = adherenceAt(entry, now, thresholds.exception_s ?? 60);
  const severe = figures.status === "out" && figures.outFor !== null
    && figures.outFor >= (thresholds.severe_s ?? 300);
  row.root.dataset.status = severe ? "severe" : figures.status;
  setText(row.cells.status, severe ? "Out · severe" : STATUS_TEXT[figures.status] ?? figures.status);
  setText(row.cells.time_out, figures.outFor === null ? "—" : formatDuration(figures.outFor));
  setText(row.cells.adherence, formatPercent(figures.adherence));
}

function svg(name, attributes, parent) {
  const element = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  parent.append(element);
  return element;
}

function label(parent, x, y, content, className, anchor = "middle") {
  svg("text", { x, y, class: className, "text-anchor": anchor }, parent).textContent = content;
}

function hhmm(epoch, timeZone) {
  return new Date(epoch * 1000).toLocaleTimeString("en-GB",
    { hour: "2-digit", minute: "2-digit", timeZone: timeZone || "UTC" });
}

/** Forecast vs actual volume (bars) and required vs staffed agents (lines), per interval. */
export function drawIntradayChart(element, entry, timeZone, width, height) {
  element.replaceChildren();
  element.setAttribute("viewBox", `0 0 ${width} ${height}`);
  element.setAttribute("width", String(width));
  element.setAttribute("height", String(height));
  const data = (Array.isArray(entry?.rows) ? entry.rows : []).filter((r) => isNumber(r.start_epoch));
  if (!data.length) return;
  const m = { top: 12, right: 40, bottom: 22, left: 36 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const volume = (r) => [r.forecast_volume, r.actual_volume, r.reforecast_volume];
  const agents = (r) => [r.required, r.staffed, r.planned, r.reforecast_required];
  const maxOf = (f) => Math.max(1, ...data.flatMap(f).filter(isNumber));
  const vMax = maxOf(volume);
  const aMax = maxOf(agents);
  const slot = w / data.length;
  const x = (i) => m.left + i * slot;
  const yV = (v) => m.top + h - (v / vMax) * h;
  const yA = (v) => m.top + h - (v / aMax) * h;
  svg("line", { x1: m.left, x2: m.left + w, y1: m.top + h, y2: m.top + h, class: "wfm-axis" }, element);
  data.forEach((r, i) => {
    const bar = Math.max(1, slot / 2 - 1);
    if (isNumber(r.forecast_volume)) {
      svg("rect", { x: x(i) + 1, y: yV(r.forecast_volume), width: bar,
        height: m.top + h - yV(r.forecast_volume), class: "wfm-forecast" }, element);
    }
    const actual = isNumber(r.actual_volume) ? r.actual_volume : null;
    if (actual !== null) {
      svg("rect", { x: x(i) + 1 + bar, y: yV(actual), width: bar, height: m.top + h - yV(actual),
        class: "wfm-actual" }, element);
    } else if (isNumber(r.reforecast_volume)) {
      svg("rect", { x: x(i) + 1 + bar, y: yV(r.reforecast_volume), width: bar,
        height: m.top + h - yV(r.reforecast_volume), class: "wfm-reforecast" }, element);
    }
  });
  const line = (pick, className) => {
    const points = data.map((r, i) => [x(i) + slot / 2, pick(r)]).filter(([, v]) => isNumber(v));
    if (points.length) {
      svg("polyline", { points: points.map(([px, v]) => `${px},${yA(v)}`).join(" "),
        class: className, fill: "none" }, element);
    }
  };
  line((r) => r.required, "wfm-required");
  line((r) => r.staffed, "wfm-staffed");
  line((r) => r.planned, "wfm-planned");
  label(element, m.left - 4, m.top + 8, String(Math.round(vMax)), "wfm-tick", "end");
  label(element, m.left + w + 4, m.top + 8, `${Math.round(aMax)} ag.`, "wfm-tick", "start");
  const every = Math.max(1, Math.ceil(data.length / 8));
  data.forEach((r, i) => {
    if (i % every === 0) label(element, x(i) + slot / 2, height - 6, hhmm(r.start_epoch, timeZone), "wfm-tick");
  });
}

function createChart(queue) {
  const root = document.createElement("article");
  root.className = "wfm-queue";
  root.dataset.wfmQueue = queue;
  const head = document.createElement("h3");
  head.textContent = queue;
  const summary = document.createElement("p");
  summary.className = "wfm-summary";
  const element = document.createElementNS(NS, "svg");
  element.setAttribute("class", "wfm-chart");
  element.setAttribute("role", "img");
  element.setAttribute("aria-label", `${queue}: forecast vs actual volume, required vs staffed agents`);
  const legend = document.createElement("p");
  legend.className = "wfm-legend";
  for (const [cls, text] of [["wfm-forecast", "forecast"], ["wfm-actual", "actual"],
    ["wfm-reforecast", "re-forecast"], ["wfm-required", "required agents"],
    ["wfm-staffed", "staffed"], ["wfm-planned", "planned"]]) {
    const key = document.createElement("span");
    key.className = `wfm-key ${cls}`;
    key.textContent = text;
    legend.append(key);
  }
  root.append(head, summary, element, legend);
  return { root, svg: element, summary };
}

function gapText(gap) {
  if (!isNumber(gap)) return "—";
  return gap < 0 ? `${Math.abs(gap)} short` : gap > 0 ? `${gap} over` : "even";
}

function updateChart(queue, chart, entry, timeZone) {
  const now = entry.now ?? {};
  const next = entry.next ?? {};
  const roll = entry.adherence ?? {};
  setText(chart.summary, [
    `Volume ${formatPercent(entry.volume_ratio)} of forecast`,
    `now: need ${now.required ?? "—"}, staffed ${now.staffed ?? "—"} (${gapText(now.gap)})`,
    `next: need ${next.required ?? "—"}, planned ${next.planned ?? "—"} (${gapText(next.gap)})`,
    `adherence ${formatPercent(roll.adherence)}`,
  ].join(" · "));
  chart.root.dataset.gapNow = isNumber(now.gap) && now.gap < 0 ? "short" : "ok";
  const width = Math.max(240, Math.round(chart.root.clientWidth || 480));
  drawIntradayChart(chart.svg, entry, timeZone, width, 180);
}

/** Render the WFM view from the page's view, at stream time `now`. */
export function renderWfm(view, now) {
  const thresholds = view.scalars.adherence_thresholds ?? {};
  const adherence = view.adherence;
  const ids = [...adherence.keys()].sort((a, b) => {
    const sa = STATUS_ORDER[adherence.get(a).status] ?? 9;
    const sb = STATUS_ORDER[adherence.get(b).status] ?? 9;
    return sa - sb || a.localeCompare(b);
  });
  $("#no-wfm").hidden = ids.length > 0 || view.intraday.size > 0;
  reconcile($("#wfm-rows"), rows, ids, createRow, (id, row) => {
    updateRow(row, adherence.get(id), now, thresholds);
  });
  const queues = [...view.intraday.keys()].sort((a, b) => a.localeCompare(b));
  reconcile($("#wfm-queues"), charts, queues, createChart, (queue, chart) => {
    updateChart(queue, chart, view.intraday.get(queue), view.scalars.timezone);
  });
}

/** Advance what ticks: time out, status, adherence % today. */
export function tickWfm(view, now) {
  const thresholds = view.scalars.adherence_thresholds ?? {};
  for (const row of rows.values()) if (row.entry) tickRow(row, now, thresholds);
}
