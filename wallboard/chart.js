// Today's intervals of one queue as an SVG chart: offered and answered bars per interval (faded
// while the interval is open), the service level as a line against its target. Drawn with
// createElementNS and textContent only.
import {
  formatCount, formatPercent, intervalLabel, isNumber, isoClock, serviceLevelClass,
} from "./format.js";

const NS = "http://www.w3.org/2000/svg";
const MIN_SLOTS = 16; // the x axis shows at least four hours, so early bars stay slim
const MARGIN = { top: 14, right: 46, bottom: 24, left: 40 };
const INTERVAL_S = 900;

function svgElement(name, attributes = {}, parent = null) {
  const element = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (parent) parent.append(element);
  return element;
}

function text(parent, x, y, content, className, anchor = "middle") {
  const element = svgElement("text", { x, y, class: className, "text-anchor": anchor }, parent);
  element.textContent = content;
  return element;
}

/** A round upper bound for counts, and its step: 37 -> {max: 40, step: 10}. */
export function niceScale(value) {
  const top = Math.max(1, value);
  const magnitude = 10 ** Math.floor(Math.log10(top));
  for (const factor of [0.1, 0.2, 0.5, 1, 2, 5, 10]) {
    const step = Math.max(1, Math.round(factor * magnitude));
    if (top / step <= 4) return { max: Math.ceil(top / step) * step, step };
  }
  return { max: top, step: top };
}

function startEpoch(row) {
  const epoch = Date.parse(row?.interval_start ?? "");
  return Number.isFinite(epoch) ? epoch / 1000 : null;
}

const isQuiet = (row) => !(row.offered > 0 || row.answered > 0 || row.abandoned > 0
  || row.short_abandoned > 0);

/** The rows the chart shows: leading intervals without traffic are left out (the night). */
export function chartRows(rows) {
  const valid = (Array.isArray(rows) ? rows : []).filter((row) => startEpoch(row) !== null);
  let first = valid.findIndex((row) => !isQuiet(row));
  if (first < 0) first = Math.max(0, valid.length - 1);
  return valid.slice(first);
}

/**
 * Draw `rows` into `svg` (replacing its content), `width` × `height` pixels.
 * `queue` gives the target and amber band of the service level.
 */
export function drawIntervalChart(svg, rows, queue, width, height) {
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  const shown = chartRows(rows);
  const plot = {
    left: MARGIN.left, top: MARGIN.top,
    width: Math.max(10, width - MARGIN.left - MARGIN.right),
    height: Math.max(10, height - MARGIN.top - MARGIN.bottom),
  };
  const bottom = plot.top + plot.height;
  const right = plot.left + plot.width;
  svg.dataset.slots = String(shown.length);
  if (shown.length === 0) {
    text(svg, width / 2, height / 2, "No intervals yet today", "chart-empty");
    return;
  }

  const first = startEpoch(shown[0]);
  const slotOf = (row) => Math.round((startEpoch(row) - first) / INTERVAL_S);
  const span = slotOf(shown[shown.length - 1]) + 1;
  const slots = Math.max(MIN_SLOTS, span);
  const slotWidth = plot.width / slots;
  const x = (slot) => plot.left + slot * slotWidth;

  const peak = Math.max(0, ...shown.map((row) => Math.max(row.offered ?? 0, row.answered ?? 0)));
  const scale = niceScale(peak);
  const yCount = (value) => bottom - (Math.max(0, value) / scale.max) * plot.height;
  const yRatio = (ratio) => bottom - Math.min(1, Math.max(0, ratio)) * plot.height;

  // Grid and axes: counts on the left, service level on the right.
  const grid = svgElement("g", { class: "chart-grid" }, svg);
  for (let value = 0; value <= scale.max; value += scale.step) {
    const y = yCount(value);
    svgElement("line", { x1: plot.left, x2: right, y1: y, y2: y }, grid);
    text(svg, plot.left - 6, y + 4, formatCount(value), "axis axis-count", "end");
  }
  for (const ratio of [0, 0.5, 1]) {
    text(svg, right + 6, yRatio(ratio) + 4, formatPercent(ratio), "axis axis-sl", "start");
  }

  // Hour labels along the bottom, far enough apart to read.
  const firstClock = isoClock(shown[0].interval_start);
  const [hour0, minute0] = firstClock.split(":").map(Number);
  const hoursApart = Math.max(1, Math.ceil(46 / (slotWidth * 4)));
  for (let slot = 0; slot <= slots; slot += 1) {
    const minutes = (hour0 * 60 + minute0 + slot * 15) % 1440;
    if (minutes % 60 !== 0 || (minutes / 60) % hoursApart !== 0) continue;
    const label = `${String(minutes / 60).padStart(2, "0")}:00`;
    svgElement("line", { x1: x(slot), x2: x(slot), y1: bottom, y2: bottom + 4, class: "tick" }, svg);
    text(svg, x(slot), bottom + 16, label, "axis axis-time");
  }

  // Bars: offered behind, answered in front; open intervals (may still change) are faded.
  const bars = svgElement("g", { class: "chart-bars" }, svg);
  for (const row of shown) {
    const slot = slotOf(row);
    const open = row.status !== "closed";
    const series = [["offered", 0.8], ["answered", 0.48]];
    for (const [name, share] of series) {
      const value = isNumber(row[name]) ? row[name] : 0;
      const top = yCount(value);
      svgElement("rect", {
        x: x(slot) + (slotWidth * (1 - share)) / 2, y: top,
        width: Math.max(1, slotWidth * share), height: Math.max(0, bottom - top),
        class: `bar bar-${name}${open ? " open" : ""}`,
        "data-series": name, "data-slot": row.interval_start, "data-value": value,
      }, bars);
    }
  }

  // Service-level target, then the line (broken where there is no service level).
  const target = isNumber(queue?.sl_target) ? queue.sl_target : null;
  if (target !== null) {
    const y = yRatio(target);
    svgElement("line", { x1: plot.left, x2: right, y1: y, y2: y, class: "sl-target-line",
      "data-target": target }, svg);
    text(svg, right - 4, y - 5, `target ${formatPercent(target)}`, "target-label", "end");
  }
  let path = "";
  let drawing = false;
  let previousSlot = -2;
  const points = [];
  for (const row of shown) {
    const slot = slotOf(row);
    if (!isNumber(row.service_level)) {
      drawing = false;
      continue;
    }
    const px = x(slot) + slotWidth / 2;
    const py = yRatio(row.service_level);
    path += `${drawing && slot === previousSlot + 1 ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`;
    drawing = true;
    previousSlot = slot;
    points.push([row, px, py]);
  }
  if (path) svgElement("path", { d: path, class: "sl-line" }, svg);
  const radius = Math.max(2, Math.min(4, slotWidth / 4));
  for (const [row, px, py] of points) {
    const level = serviceLevelClass(row.service_level, queue?.sl_target, queue?.sl_amber);
    svgElement("circle", {
      cx: px, cy: py, r: radius, class: `sl-point ${level}`,
      "data-series": "service_level", "data-slot": row.interval_start,
      "data-value": row.service_level,
    }, svg);
  }

  // One hover area per interval, with its figures as the SVG tooltip.
  const hits = svgElement("g", { class: "chart-hits" }, svg);
  for (const row of shown) {
    const hit = svgElement("rect", {
      x: x(slotOf(row)), y: plot.top, width: slotWidth, height: plot.height, class: "hit",
    }, hits);
    const title = svgElement("title", {}, hit);
    title.textContent = `${intervalLabel(row)} (${row.status === "closed" ? "closed" : "open"})`
      + `\nOffered ${formatCount(row.offered)} · answered ${formatCount(row.answered)}`
      + ` · abandoned ${formatCount(row.abandoned)}`
      + `\nService level ${formatPercent(row.service_level)}`;
  }
}
