// Live updates from the event stream (decision 0022). The page works without this file:
// it only re-renders the marked regions when the platform says something changed.
// The stream is the dashboard's relay of /api/v1/events/stream; the session cookie
// authenticates it, so no token is ever visible to scripts.

const REFRESH_DELAY_MS = 250;

function describe(event) {
  try {
    const body = JSON.parse(event.data);
    return body.type ? `Update: ${body.type.replace(/[._]/g, " ")}` : "Update";
  } catch {
    return "Update";
  }
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

function follow(stream, regions) {
  const log = document.querySelector("[data-live-log]");
  const source = new EventSource(stream, { withCredentials: true });
  let timer = null;
  source.onmessage = (event) => {
    if (log) log.textContent = describe(event);
    document.body.dataset.lastEvent = event.lastEventId;
    clearTimeout(timer);
    timer = setTimeout(() => refreshRegions(regions), REFRESH_DELAY_MS);
  };
  source.onopen = () => { document.body.dataset.live = "open"; };
}

const regions = [...document.querySelectorAll("[data-live-region]")];
const streamed = document.querySelector("[data-live-stream]");
if (streamed && regions.length) {
  follow(streamed.dataset.liveStream, regions);
}
