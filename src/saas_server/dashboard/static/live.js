// Live updates from the event stream (decision 0022). The page works without this file:
// it only re-renders the marked regions when the platform says something changed, and
// shows the steps of a running provisioning, backup or restore as they start and finish.
// The stream is the dashboard's relay of /api/v1/events/stream; the session cookie
// authenticates it, so no token is ever visible to scripts.

const REFRESH_DELAY_MS = 250;
// A page opened while something runs asks for the tenant's recent events again: the steps of
// the last two minutes before the page was drawn are shown, older ones skipped, and events
// the page already reflects (before it was drawn) refresh nothing.
const RECENT_STEPS_MS = 120_000;
const OPERATIONS = {
  "instance.progress": { label: "Setting up Odoo", id: "instance_id" },
  "backup.progress": { label: "Backup", id: "backup_id" },
  "restore.progress": { label: "Restore", id: "restore_id" },
};

function parse(event) {
  try {
    return JSON.parse(event.data);
  } catch {
    return null;
  }
}

function describe(body) {
  return body && body.type ? `Update: ${body.type.replace(/[._]/g, " ")}` : "Update";
}

function words(name) {
  return String(name).replace(/_/g, " ");
}

// One line per running operation: its step, "step i of n", and a progress bar.
function showProgress(panel, body) {
  const operation = OPERATIONS[body.type];
  const data = body.data || {};
  const key = `${body.type}:${data[operation.id] || ""}`;
  const list = panel.querySelector("[data-progress-list]");
  let item = [...list.children].find((li) => li.dataset.progressKey === key);
  if (!item) {
    item = document.createElement("li");
    item.dataset.progressKey = key;
    const text = document.createElement("span");
    text.className = "progress-text";
    const bar = document.createElement("progress");
    bar.max = 100;
    item.append(text, bar);
    list.append(item);
  }
  const done = data.phase === "finished" && data.index === data.total;
  const state = done ? "done" : data.phase === "started" ? "running" : "finished";
  const text = `${operation.label}: step ${data.index} of ${data.total}, ${words(data.step)} ` +
    `(${state}), ${data.percent} %`;
  item.querySelector(".progress-text").textContent = text;
  const bar = item.querySelector("progress");
  bar.value = data.percent;
  bar.setAttribute("aria-label", `${operation.label} progress`);
  item.dataset.step = data.step;
  item.dataset.percent = String(data.percent);
  panel.hidden = false;
}

async function refreshRegions(regions) {
  const response = await fetch(window.location.href, {
    credentials: "same-origin",
    headers: { "Accept": "text/html" },
  });
  if (!response.ok) return;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const region of regions) {
    const replacement = fresh.getElementById(region.id);
    if (replacement && !region.contains(document.activeElement)) {
      region.replaceChildren(...replacement.childNodes);
    }
  }
}

function follow(stream, since, regions) {
  const log = document.querySelector("[data-live-log]");
  const panel = document.querySelector("[data-live-progress]");
  const source = new EventSource(stream, { withCredentials: true });
  let timer = null;
  source.onmessage = (event) => {
    const body = parse(event);
    const at = body && body.timestamp ? Date.parse(body.timestamp) : NaN;
    document.body.dataset.lastEvent = event.lastEventId;
    if (at < since - RECENT_STEPS_MS) return;
    if (body && OPERATIONS[body.type]) {
      if (panel) showProgress(panel, body);
      if (at < since) return;
      // A step in between changes nothing else on the page; the end events refresh it.
      if (!(body.data && body.data.phase === "finished" && body.data.index === body.data.total)) {
        return;
      }
    }
    if (at < since) return;
    if (log) log.textContent = describe(body);
    clearTimeout(timer);
    timer = setTimeout(() => refreshRegions(regions), REFRESH_DELAY_MS);
  };
  source.onopen = () => { document.body.dataset.live = "open"; };
}

const regions = [...document.querySelectorAll("[data-live-region]")];
const streamed = document.querySelector("[data-live-stream]");
if (streamed && regions.length) {
  const since = Date.parse(streamed.dataset.liveSince || "") || 0;
  follow(streamed.dataset.liveStream, since, regions);
}
