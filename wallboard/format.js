// Pure formatting and merging for the wallboard: no DOM here.

export const EMPTY = "—";

export const AGENT_STATES = ["available", "on_contact", "acw", "aux", "logged_out"];

export const STATE_LABELS = {
  available: "Available",
  on_contact: "On contact",
  acw: "ACW",
  aux: "Aux",
  logged_out: "Logged out",
};

const countFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

export function isNumber(value) {
  return typeof value === "number" && Number.isFinite(value);
}

export function formatCount(value) {
  return isNumber(value) ? countFormat.format(value) : EMPTY;
}

/** 0.6667 -> "67%"; null -> "—". */
export function formatPercent(ratio) {
  return isNumber(ratio) ? `${Math.round(ratio * 100)}%` : EMPTY;
}

/** Seconds -> "mm:ss" (or "h:mm:ss" from one hour); null -> "—". */
export function formatDuration(seconds) {
  if (!isNumber(seconds)) return EMPTY;
  const total = Math.max(0, Math.floor(seconds));
  const s = String(total % 60).padStart(2, "0");
  const minutes = Math.floor(total / 60);
  if (minutes < 60) return `${String(minutes).padStart(2, "0")}:${s}`;
  const m = String(minutes % 60).padStart(2, "0");
  return `${Math.floor(minutes / 60)}:${m}:${s}`;
}

/** The service-level colour: green at or above target, amber at or above amber, else red. */
export function serviceLevelClass(serviceLevel, target, amber) {
  if (!isNumber(serviceLevel)) return "sl-none";
  const slTarget = isNumber(target) ? target : 0.8;
  const slAmber = isNumber(amber) ? amber : slTarget - 0.1;
  if (serviceLevel >= slTarget) return "sl-green";
  if (serviceLevel >= slAmber) return "sl-amber";
  return "sl-red";
}

const clockFormats = new Map();

function clockFormat(timeZone) {
  let format = clockFormats.get(timeZone);
  if (!format) {
    const options = {
      timeZone, hour12: false, hour: "2-digit", minute: "2-digit", second: "2-digit",
      weekday: "short", day: "numeric", month: "short", year: "numeric",
    };
    try {
      format = new Intl.DateTimeFormat("en-GB", options);
    } catch {
      format = new Intl.DateTimeFormat("en-GB", { ...options, timeZone: "UTC" });
    }
    clockFormats.set(timeZone, format);
  }
  return format;
}

/** Epoch seconds -> {time: "09:15:03", date: "Sun 22 Nov 2026"} in the center's zone. */
export function formatClock(epochSeconds, timeZone) {
  if (!isNumber(epochSeconds)) return { time: "--:--:--", date: "" };
  const parts = {};
  for (const part of clockFormat(timeZone || "UTC").formatToParts(epochSeconds * 1000)) {
    parts[part.type] = part.value;
  }
  return {
    time: `${parts.hour}:${parts.minute}:${parts.second}`,
    date: `${parts.weekday} ${parts.day} ${parts.month} ${parts.year}`,
  };
}

/** "2026-11-22T09:15:00+00:00" -> "09:15": the wall time of an ISO time in its own offset. */
export function isoClock(iso) {
  const match = typeof iso === "string" ? /T(\d\d:\d\d)/.exec(iso) : null;
  return match ? match[1] : "";
}

/** An interval row's label, "09:15–09:30". */
export function intervalLabel(row) {
  const start = isoClock(row?.interval_start);
  const end = isoClock(row?.interval_end);
  return end ? `${start}–${end}` : start;
}

/** 30 -> "30 s", 2.5 -> "2.5 s"; null -> "T" (the threshold's symbol). */
export function formatSeconds(seconds, symbol = "T") {
  if (!isNumber(seconds)) return symbol;
  return `${Number.isInteger(seconds) ? seconds : Math.round(seconds * 10) / 10} s`;
}

export const KINDS = ["queues", "teams", "agents", "intervals", "adherence", "intraday"];

/** A snapshot as the page keeps it: scalars in a plain record, entries in Maps. */
export function fromSnapshot(data) {
  const view = { scalars: Object.create(null) };
  for (const kind of KINDS) view[kind] = new Map();
  return applyUpdate(view, data);
}

/** Merge an update (or a snapshot) as docs/live-state.md says; returns the view. */
export function applyUpdate(view, update) {
  for (const [key, value] of Object.entries(update)) {
    if (!KINDS.includes(key) && key !== "removed") view.scalars[key] = value;
  }
  for (const kind of KINDS) {
    for (const [name, entry] of Object.entries(update[kind] ?? {})) view[kind].set(name, entry);
    const removed = update.removed?.[kind];
    if (Array.isArray(removed)) for (const name of removed) view[kind].delete(name);
  }
  return view;
}
