// The wallboard: a snapshot then updates over /ws, rendered with textContent only.
import {
  AGENT_STATES, EMPTY, STATE_LABELS, applyUpdate, formatClock, formatCount, formatDuration,
  formatPercent, fromSnapshot, isNumber, serviceLevelClass,
} from "./format.js";

const STALE_AFTER_MS = 5000;
const TICK_MS = 250;
const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 5000;
const NOTICE_MS = 10000;

const $ = (selector, root = document) => root.querySelector(selector);

// --- state -------------------------------------------------------------------------------

const page = {
  view: null, // {scalars, queues: Map, teams: Map, agents: Map}
  receivedAt: 0, // performance.now() when as_of_epoch last arrived
  lastMessageAt: 0,
  status: "disconnected",
  socket: null,
  attempt: 0,
  tiles: new Map(), // queue name -> {root, fields}
  cards: new Map(), // agent id -> {root, fields}
};

/** Stream time now: the latest event time plus the time since it arrived. */
function streamNow() {
  const asOf = page.view?.scalars.as_of_epoch;
  if (!isNumber(asOf)) return null;
  return asOf + (performance.now() - page.receivedAt) / 1000;
}

// --- connection --------------------------------------------------------------------------

function socketUrl() {
  const query = new URLSearchParams(window.location.search);
  const forward = new URLSearchParams();
  for (const key of ["tenant", "queues", "teams"]) {
    const value = query.get(key);
    if (value) forward.set(key, value);
  }
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  const search = forward.toString();
  return `${scheme}//${window.location.host}/ws${search ? `?${search}` : ""}`;
}

function connect() {
  const socket = new WebSocket(socketUrl());
  page.socket = socket;
  socket.addEventListener("open", () => {
    page.attempt = 0;
    page.lastMessageAt = performance.now();
    setStatus("connected");
  });
  socket.addEventListener("message", (event) => {
    page.lastMessageAt = performance.now();
    if (page.status !== "connected") setStatus("connected");
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    onMessage(message);
  });
  socket.addEventListener("close", () => {
    if (page.socket !== socket) return;
    page.socket = null;
    setStatus("disconnected");
    const backoff = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** page.attempt);
    page.attempt += 1;
    setTimeout(connect, backoff * (0.8 + Math.random() * 0.4));
  });
}

function onMessage(message) {
  if (message === null || typeof message !== "object") return;
  if (message.type === "snapshot" && message.data) {
    page.view = fromSnapshot(message.data);
    page.receivedAt = performance.now();
    render();
  } else if (message.type === "update" && message.data && page.view) {
    applyUpdate(page.view, message.data);
    if (isNumber(message.data.as_of_epoch)) page.receivedAt = performance.now();
    render();
  } else if (message.type === "error") {
    showNotice(`Gateway: ${String(message.message ?? "error")}`);
  }
}

const STATUS_TEXT = {
  connected: ["Live", "Connected: receiving live updates"],
  stale: ["Stale", `Connected, but nothing received for more than ${STALE_AFTER_MS / 1000} s`],
  disconnected: ["Reconnecting…", "Disconnected from the gateway; reconnecting"],
};

function setStatus(status) {
  page.status = status;
  const indicator = $("#connection");
  indicator.dataset.status = status;
  const [label, title] = STATUS_TEXT[status];
  $("#connection-label").textContent = label;
  indicator.title = title;
  document.body.classList.toggle("offline", status === "disconnected");
  document.body.classList.toggle("stale", status === "stale");
}

let noticeTimer = 0;
function showNotice(text) {
  const notice = $("#notice");
  notice.textContent = text;
  notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { notice.hidden = true; }, NOTICE_MS);
}

// --- rendering ---------------------------------------------------------------------------

function fieldsOf(root) {
  const fields = {};
  for (const element of root.querySelectorAll("[data-field]")) {
    fields[element.dataset.field] = element;
  }
  return fields;
}

function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

/** Keep `container`'s keyed children in `order`, creating and removing as needed. */
function reconcile(container, items, order, create, update) {
  const keep = new Set(order);
  for (const [key, item] of items) {
    if (!keep.has(key)) {
      item.root.remove();
      items.delete(key);
    }
  }
  let previous = null;
  for (const key of order) {
    let item = items.get(key);
    if (!item) {
      item = create(key);
      items.set(key, item);
    }
    update(key, item);
    const expected = previous ? previous.nextElementSibling : container.firstElementChild;
    if (expected !== item.root) {
      if (previous) previous.after(item.root);
      else container.prepend(item.root);
    }
    previous = item.root;
  }
}

function render() {
  const { scalars, queues, agents } = page.view;
  const tenant = typeof scalars.tenant === "string" ? scalars.tenant : "";
  setText($("#tenant"), tenant);
  document.title = tenant ? `floorpulse · ${tenant}` : "floorpulse wallboard";
  setText($("#dead-letters"), formatCount(scalars.dead_letters));

  const queueNames = [...queues.keys()].sort((a, b) => a.localeCompare(b));
  $("#no-queues").hidden = queueNames.length > 0;
  reconcile($("#queues"), page.tiles, queueNames, createTile, (name, tile) => {
    updateTile(tile, queues.get(name));
  });

  const agentIds = [...agents.keys()].sort((a, b) => compareAgents(agents.get(a), agents.get(b))
    || a.localeCompare(b));
  reconcile($("#agents"), page.cards, agentIds, createCard, (id, card) => {
    updateCard(card, agents.get(id));
  });
  renderSummary(agents);
  tick();
}

function compareAgents(a, b) {
  const out = (agent) => (agent?.state === "logged_out" ? 1 : 0);
  return out(a) - out(b) || String(a?.name ?? "").localeCompare(String(b?.name ?? ""));
}

function createTile(name) {
  const root = $("#queue-tile").content.firstElementChild.cloneNode(true);
  root.dataset.queue = name;
  const tile = { root, fields: fieldsOf(root), entry: null };
  tile.fields.queue.textContent = name;
  return tile;
}

function updateTile(tile, entry) {
  tile.entry = entry;
  const { fields, root } = tile;
  const threshold = isNumber(entry.sl_threshold_s) ? entry.sl_threshold_s : null;
  const thresholdText = threshold === null ? "T" : `${formatCount(threshold)} s`;
  setText(fields.target, isNumber(entry.sl_target)
    ? `target ${formatPercent(entry.sl_target)} in ${thresholdText}` : "");
  setText(fields.waiting, formatCount(entry.waiting));
  const level = serviceLevelClass(entry.service_level, entry.sl_target, entry.sl_amber);
  for (const element of [root, fields.service_level]) {
    element.classList.remove("sl-green", "sl-amber", "sl-red", "sl-none");
    element.classList.add(level);
  }
  setText(fields.service_level, formatPercent(entry.service_level));
  root.querySelector("[data-title=service_level]").title =
    `Service level = answered within ${thresholdText} ÷ offered (today, abandons count against)`;
  const fill = root.querySelector(".sl-fill");
  fill.style.width = `${isNumber(entry.service_level) ? Math.min(1, entry.service_level) * 100 : 0}%`;
  const mark = root.querySelector(".sl-target");
  mark.hidden = !isNumber(entry.sl_target);
  if (isNumber(entry.sl_target)) mark.style.left = `${entry.sl_target * 100}%`;

  setText(fields.offered, formatCount(entry.offered));
  setText(fields.answered, formatCount(entry.answered));
  setText(fields.abandoned, formatCount(entry.abandoned));
  setText(fields.abandon_rate, formatPercent(entry.abandon_rate));
  setText(fields.asa, formatDuration(entry.asa_s));
  setText(fields.aht, formatDuration(entry.aht_s));
  setText(fields.handled, formatCount(entry.handled));
  const staff = entry.agents ?? {};
  for (const state of ["available", "on_contact", "acw", "aux"]) {
    setText(fields[state], formatCount(staff[state]));
  }
}

function createCard(id) {
  const root = $("#agent-card").content.firstElementChild.cloneNode(true);
  root.dataset.agent = id;
  return { root, fields: fieldsOf(root), entry: null };
}

function updateCard(card, entry) {
  card.entry = entry;
  const { fields, root } = card;
  const state = AGENT_STATES.includes(entry.state) ? entry.state : "unknown";
  root.dataset.state = state;
  setText(fields.name, String(entry.name ?? root.dataset.agent));
  setText(fields.state, STATE_LABELS[state] ?? String(entry.state ?? EMPTY));
  setText(fields.reason, entry.reason ? String(entry.reason) : "");
  setText(fields.team, entry.team ? String(entry.team) : "");
  setText(fields.handled, formatCount(entry.handled));
}

function renderSummary(agents) {
  const counts = Object.fromEntries(AGENT_STATES.map((state) => [state, 0]));
  for (const agent of agents.values()) {
    if (agent?.state in counts) counts[agent.state] += 1;
  }
  const summary = $("#agent-summary");
  const parts = ["available", "on_contact", "acw", "aux"].map((state) => {
    const part = document.createElement("span");
    part.className = `summary-part state-${state}`;
    part.textContent = `${counts[state]} ${STATE_LABELS[state].toLowerCase()}`;
    return part;
  });
  summary.replaceChildren(...parts);
}

/** Advance everything that ticks: the clock, longest waits, time in state, staleness. */
function tick() {
  if (page.status !== "disconnected") {
    const quiet = performance.now() - page.lastMessageAt > STALE_AFTER_MS;
    const status = quiet ? "stale" : "connected";
    if (status !== page.status) setStatus(status);
  }
  if (!page.view) return;
  const now = streamNow();
  const clock = formatClock(now, page.view.scalars.timezone);
  setText($("#stream-time"), clock.time);
  setText($("#stream-date"), [clock.date, page.view.scalars.timezone].filter(Boolean).join(" · "));

  for (const tile of page.tiles.values()) {
    const entry = tile.entry;
    let wait = null;
    if (isNumber(entry.oldest_queued_epoch) && now !== null && entry.waiting > 0) {
      wait = Math.max(0, now - entry.oldest_queued_epoch);
    } else if (isNumber(entry.longest_wait_s)) {
      wait = entry.longest_wait_s;
    }
    setText(tile.fields.longest_wait, formatDuration(wait));
    const threshold = isNumber(entry.sl_threshold_s) ? entry.sl_threshold_s : 20;
    const element = tile.fields.longest_wait;
    element.classList.toggle("over", wait !== null && wait > threshold);
    element.classList.toggle("way-over", wait !== null && wait > 3 * threshold);
  }
  for (const card of page.cards.values()) {
    const since = card.entry.since_epoch;
    const seconds = isNumber(since) && now !== null ? Math.max(0, now - since) : null;
    setText(card.fields.time_in_state, formatDuration(seconds));
  }
}

function describeSubscription() {
  const query = new URLSearchParams(window.location.search);
  const parts = [];
  for (const key of ["queues", "teams"]) {
    const value = query.get(key);
    if (value) parts.push(`${key}: ${value.split(",").join(", ")}`);
  }
  $("#subscription").textContent = parts.join(" · ");
}

describeSubscription();
setInterval(tick, TICK_MS);
connect();
