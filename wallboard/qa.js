// The QA view (#qa): flagged contacts newest first with their reasons, trend and status;
// claim / review / dismiss for the qa and admin roles; a detail pane with the reasons, the
// customer's messages and a sentiment sparkline drawn here in SVG. Everything from the
// gateway (customer text above all) is rendered with textContent only.
import { $, fieldsOf, fromTemplate, reconcile, setText } from "./dom.js";
import { formatClock, isNumber } from "./format.js";

const SVG = "http://www.w3.org/2000/svg";
const STATUS_TEXT = { open: "Open", claimed: "Claimed", reviewed: "Reviewed", dismissed: "Dismissed" };
const ACTION_BUTTONS = ["claim", "release", "review", "dismiss"];

const state = {
  role: null,
  name: "",
  tenant: "",
  items: new Map(), // contact id -> item
  rows: new Map(), // contact id -> {root, fields}
  selected: null,
  sending: new Set(), // "contact|action" on their way
  send: () => false,
  timezone: () => "UTC",
};

export function initQa(send, timezone) {
  state.send = send;
  state.timezone = timezone;
  $("#qa-detail-close").addEventListener("click", () => select(null));
}

export function onQaAccess(message) {
  state.role = message.role;
  state.name = message.name;
  const sees = message.role === "qa" || message.role === "admin";
  for (const tab of document.querySelectorAll('[data-view-tab="qa"]')) tab.hidden = !sees;
}

export function onQaQueue(message) {
  state.tenant = String(message.tenant ?? "");
  state.items = new Map();
  for (const item of Array.isArray(message.items) ? message.items : []) {
    if (item && typeof item.contact_id === "string") state.items.set(item.contact_id, item);
  }
  state.sending.clear();
  renderQa();
}

export function onQaItem(message) {
  const item = message.item;
  if (!item || typeof item.contact_id !== "string") return;
  state.items.set(item.contact_id, item);
  for (const key of [...state.sending]) if (key.startsWith(`${item.contact_id}|`)) state.sending.delete(key);
  renderQa();
}

export function onQaActionSent() {
  renderQa();
}

export function onQaError() {
  state.sending.clear();
  renderQa();
}

function mayAct() {
  return state.role === "qa" || state.role === "admin";
}

function ordered() {
  return [...state.items.values()].sort((a, b) =>
    (Number(b.flagged_at_ms) || 0) - (Number(a.flagged_at_ms) || 0)
    || String(b.contact_id).localeCompare(String(a.contact_id)));
}

export function renderQa() {
  const items = ordered();
  $("#qa-empty").hidden = items.length > 0;
  setText($("#qa-count"), items.length ? `${items.length} flagged · ${items.filter((i) => i.status === "open").length} open` : "");
  reconcile($("#qa-list"), state.rows, items.map((i) => i.contact_id), createRow, (id, row) => updateRow(row, state.items.get(id)));
  renderDetail();
}

function createRow(id) {
  const root = fromTemplate("qa-row");
  root.dataset.contact = id;
  const fields = fieldsOf(root);
  fields.open.addEventListener("click", () => select(id));
  for (const action of ACTION_BUTTONS) {
    fields[action].addEventListener("click", (event) => {
      event.stopPropagation();
      act(id, action);
    });
  }
  return { root, fields };
}

function act(id, action) {
  const key = `${id}|${action}`;
  if (state.sending.has(key)) return;
  if (state.send({ type: "qa_action", tenant: state.tenant, contact_id: id, action })) {
    state.sending.add(key);
    renderQa();
  }
}

function reasonsText(item) {
  return (Array.isArray(item.reasons) ? item.reasons : []).map((r) => String(r.reason ?? r.rule)).join(" · ");
}

function trendText(trend) {
  if (!isNumber(trend)) return "—";
  const arrow = trend <= -0.05 ? "↘" : trend >= 0.05 ? "↗" : "→";
  return `${arrow} ${trend > 0 ? "+" : ""}${trend.toFixed(2)}`;
}

function whenText(ms) {
  return isNumber(ms) ? formatClock(ms / 1000, state.timezone()).time : "";
}

function statusText(item) {
  const status = STATUS_TEXT[item.status] ?? String(item.status ?? "");
  const who = item.status === "claimed" ? item.claimed_by : item.status === "reviewed" ? item.reviewed_by
    : item.status === "dismissed" ? item.dismissed_by : null;
  return who ? `${status} by ${who}` : status;
}

function updateRow(row, item) {
  const f = row.fields;
  row.root.dataset.status = item.status;
  row.root.classList.toggle("qa-selected", state.selected === item.contact_id);
  setText(f.time, whenText(item.flagged_at_ms));
  setText(f.contact, String(item.contact_id));
  setText(f.where, [item.queue, item.agent].filter(Boolean).join(" · "));
  setText(f.live, item.in_progress ? "In progress" : "");
  setText(f.reasons, reasonsText(item));
  setText(f.trend, trendText(item.trend));
  f.trend.dataset.direction = isNumber(item.trend) ? (item.trend < 0 ? "down" : "up") : "none";
  setText(f.status, statusText(item));
  const final = item.status === "reviewed" || item.status === "dismissed";
  const mine = item.status === "claimed" && (item.claimed_by === state.name || state.role === "admin");
  const show = {
    claim: mayAct() && item.status === "open",
    release: mayAct() && mine,
    review: mayAct() && !final && (item.status === "open" || mine),
    dismiss: mayAct() && !final && (item.status === "open" || mine),
  };
  for (const action of ACTION_BUTTONS) {
    f[action].hidden = !show[action];
    f[action].disabled = state.sending.has(`${item.contact_id}|${action}`);
  }
}

function select(id) {
  state.selected = id;
  renderQa();
}

function renderDetail() {
  const pane = $("#qa-detail");
  const item = state.selected ? state.items.get(state.selected) : null;
  pane.hidden = !item;
  if (!item) return;
  setText($("#qa-detail-contact"), `Contact ${item.contact_id}`);
  setText($("#qa-detail-meta"), [item.queue, item.agent, statusText(item),
    isNumber(item.rolling_score) ? `rolling score ${item.rolling_score.toFixed(2)}` : "",
    `trend ${trendText(item.trend)}`].filter(Boolean).join(" · "));
  const reasons = $("#qa-detail-reasons");
  reasons.replaceChildren();
  for (const reason of Array.isArray(item.reasons) ? item.reasons : []) {
    const li = document.createElement("li");
    const head = document.createElement("b");
    head.textContent = String(reason.reason ?? reason.rule);
    li.append(head);
    for (const fact of Array.isArray(reason.facts) ? reason.facts : []) {
      const span = document.createElement("span");
      span.className = "qa-fact";
      span.textContent = String(fact);
      li.append(span);
    }
    for (const evidence of Array.isArray(reason.evidence) ? reason.evidence : []) {
      const quote = document.createElement("q");
      quote.className = "qa-evidence";
      quote.textContent = String(evidence.text ?? "");
      li.append(quote);
    }
    reasons.append(li);
  }
  const messages = Array.isArray(item.messages) ? item.messages : [];
  const list = $("#qa-detail-messages");
  list.replaceChildren();
  const evidenceIds = new Set((item.reasons ?? []).flatMap((r) => (r.evidence ?? []).map((e) => e.event_id)));
  for (const message of messages) {
    const li = document.createElement("li");
    li.className = "qa-message";
    if (evidenceIds.has(message.event_id)) li.classList.add("qa-message-evidence");
    const time = document.createElement("time");
    time.textContent = whenText(message.ts_ms);
    const text = document.createElement("span");
    text.className = "qa-message-text";
    text.textContent = String(message.text ?? "");
    const score = document.createElement("span");
    score.className = "qa-message-score";
    score.textContent = isNumber(message.score) ? message.score.toFixed(2) : "";
    score.dataset.negative = String(isNumber(message.score) && message.score <= -0.05);
    li.append(time, text, score);
    list.append(li);
  }
  drawSparkline($("#qa-sparkline"), messages.map((m) => m.score).filter(isNumber));
}

/** Scores in [-1, 1] as a line over a zero axis; one dot per message. */
function drawSparkline(svg, scores) {
  const width = 240;
  const height = 48;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.replaceChildren();
  const y = (score) => ((1 - score) / 2) * (height - 8) + 4;
  const axis = document.createElementNS(SVG, "line");
  axis.setAttribute("x1", "0");
  axis.setAttribute("x2", String(width));
  axis.setAttribute("y1", String(y(0)));
  axis.setAttribute("y2", String(y(0)));
  axis.setAttribute("class", "qa-spark-axis");
  svg.append(axis);
  if (!scores.length) return;
  const x = (i) => (scores.length === 1 ? width / 2 : 4 + (i * (width - 8)) / (scores.length - 1));
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", scores.map((s, i) => `${x(i).toFixed(1)},${y(s).toFixed(1)}`).join(" "));
  line.setAttribute("class", "qa-spark-line");
  svg.append(line);
  scores.forEach((s, i) => {
    const dot = document.createElementNS(SVG, "circle");
    dot.setAttribute("cx", x(i).toFixed(1));
    dot.setAttribute("cy", y(s).toFixed(1));
    dot.setAttribute("r", "2.5");
    dot.setAttribute("class", s <= -0.05 ? "qa-spark-dot qa-spark-negative" : "qa-spark-dot");
    svg.append(dot);
  });
  svg.dataset.points = String(scores.length);
}
