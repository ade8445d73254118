// The interval view: per queue, today's 15-minute intervals as a chart and a table (newest
// first), updated live. Text only via textContent.
import { drawIntervalChart } from "./chart.js";
import { ahtParts, slFormula, slTargetText, slTooltip, slVariantsText } from "./definitions.js";
import { $, applyDefinitions, fieldsOf, fromTemplate, reconcile, setText, setTitle } from "./dom.js";
import {
  formatCount, formatDuration, formatPercent, formatSeconds, intervalLabel, isNumber,
  serviceLevelClass,
} from "./format.js";

const CHART_HEIGHT = 220;
const SL_CLASSES = ["sl-green", "sl-amber", "sl-red", "sl-none"];
const panels = new Map(); // queue name -> panel

function rowsOf(entry) {
  const byStart = new Map();
  for (const row of Array.isArray(entry?.rows) ? entry.rows : []) {
    if (row && typeof row.interval_start === "string") byStart.set(row.interval_start, row);
  }
  return [...byStart.values()];
}

/** Render the interval view from the page's view; `force` redraws every chart. */
export function renderIntervals(view, force = false) {
  const names = [...new Set([...view.queues.keys(), ...view.intervals.keys()])]
    .sort((a, b) => a.localeCompare(b));
  $("#no-intervals").hidden = names.length > 0;
  reconcile($("#interval-queues"), panels, names, createPanel, (name, panel) => {
    updatePanel(panel, view.queues.get(name) ?? {}, view.intervals.get(name));
  });
  // Charts once the panels are in the document, so they have a width.
  for (const panel of panels.values()) drawChart(panel, force);
}

function createPanel(name) {
  const root = fromTemplate("interval-panel");
  root.dataset.intervalQueue = name;
  applyDefinitions(root, "interval");
  const panel = {
    root, fields: fieldsOf(root), rows: new Map(), drawn: null,
    body: $("tbody", root), chart: $(".iv-chart-box", root), svg: $("svg", root),
  };
  panel.fields.queue.textContent = name;
  return panel;
}

function setLevel(element, level) {
  element.classList.remove(...SL_CLASSES.filter((name) => name !== level));
  element.classList.add(level);
}

function updatePanel(panel, queue, entry) {
  panel.queue = queue;
  panel.entry = entry;
  const { fields } = panel;
  setText(fields.formula, slFormula(queue));
  setText(fields.target, slTargetText(queue));
  setTitle(fields.sl_header, slTooltip(queue, "interval"));
  setText(fields.today_offered, formatCount(queue.offered));
  setText(fields.today_answered, formatCount(queue.answered));
  setText(fields.today_service_level, formatPercent(queue.service_level));
  setLevel(fields.today_service_level,
    serviceLevelClass(queue.service_level, queue.sl_target, queue.sl_amber));
  setTitle(fields.today_service_level.parentElement, slTooltip(queue, "today"));
  setText(fields.today_asa, formatDuration(queue.asa_s));
  setText(fields.today_aht, formatDuration(queue.aht_s));
  setText(fields.today_abandon_rate, formatPercent(queue.abandon_rate));

  const rows = rowsOf(entry);
  const byStart = new Map(rows.map((row) => [row.interval_start, row]));
  const order = rows.map((row) => row.interval_start).reverse(); // newest first
  reconcile(panel.body, panel.rows, order, createRow, (start, item) => {
    updateRow(item, byStart.get(start), queue);
  });
  panel.rowList = rows;
}

/** Redraw a panel's chart when its rows, target or width changed. */
function drawChart(panel, force) {
  const { queue, entry, drawn } = panel;
  const width = Math.floor(panel.chart.clientWidth);
  if (width > 0 && (force || !drawn || drawn.entry !== entry || drawn.width !== width
      || drawn.target !== queue.sl_target || drawn.amber !== queue.sl_amber)) {
    drawIntervalChart(panel.svg, panel.rowList, queue, width, CHART_HEIGHT);
    panel.drawn = { entry, width, target: queue.sl_target, amber: queue.sl_amber };
  }
}

function createRow(start) {
  const root = fromTemplate("interval-row");
  root.dataset.interval = start;
  return { root, fields: fieldsOf(root) };
}

function updateRow(item, row, queue) {
  const { root, fields } = item;
  const closed = row.status === "closed";
  root.dataset.status = closed ? "closed" : "open";
  setText(fields.time, intervalLabel(row));
  setText(fields.offered, formatCount(row.offered));
  setText(fields.answered, formatCount(row.answered));
  setText(fields.abandoned, formatCount(row.abandoned));
  setTitle(fields.abandoned, isNumber(row.short_abandoned) && row.short_abandoned > 0
    ? `${formatCount(row.short_abandoned)} short abandon${row.short_abandoned === 1 ? "" : "s"} not counted`
    : "");
  const level = serviceLevelClass(row.service_level, queue.sl_target, queue.sl_amber);
  setText(fields.service_level, formatPercent(row.service_level));
  setLevel(fields.service_level, level);
  const threshold = formatSeconds(isNumber(row.sl_threshold_s) ? row.sl_threshold_s
    : queue.sl_threshold_s);
  const detail = [
    `Answered within ${threshold}: ${formatCount(row.answered_within_threshold)}`
      + ` · abandoned within ${threshold}: ${formatCount(row.abandoned_within_threshold)}`
      + ` · judged: ${formatCount(row.judged)}`,
    slVariantsText(row.service_levels, queue.sl_definition ?? "abandons_against"),
  ].filter(Boolean);
  setTitle(fields.service_level, detail.join("\n"));
  setText(fields.asa, formatDuration(row.asa_s));
  setText(fields.aht, formatDuration(row.aht_s));
  setTitle(fields.aht, ahtParts(row));
  setText(fields.abandon_rate, formatPercent(row.abandon_rate));
  setText(fields.peak_waiting, formatCount(row.peak_waiting));
  setText(fields.status_text, closed ? "Closed" : "Open");
}
