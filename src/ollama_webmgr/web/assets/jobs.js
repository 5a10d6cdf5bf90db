// Jobs, on every page: live progress over SSE, the end announced (toast, and a
// system notification when allowed), the card refreshed once the job is final.
// Every [data-job-id] item that is still active gets an EventSource; the browser
// resumes it with Last-Event-ID after a cut. Jobs running that the page does not
// show (started from another page, tab or device) are followed unseen, so their
// end is announced wherever the person is. Texts come in French from the server
// (status_text, state_text, message).
"use strict";

(() => {
  const ACTIVE = ["queued", "running"];
  // Browsers allow 6 connections per server over HTTP/1.1: a few streams at once,
  // the other jobs are followed as these end.
  const MAX_STREAMS = 4;
  const streams = new Map();
  // Jobs whose end was shown: a render from just before must not re-follow them.
  const ended = new Set();
  // Ended jobs already seen final in a re-rendered item (the list was refreshed).
  const settled = new Set();
  // Active jobs the page does not show: id -> an item outside the document.
  const unseen = new Map();
  const KINDS = ["pull_model", "check_update", "eject_force"];
  // Jobs another script of the page follows itself (the forced eject).
  const claimed = new Set();
  const { webmgr } = window;
  const { format } = webmgr;
  webmgr.claimJob = (id) => claimed.add(id);

  function rateText(data) {
    const parts = [];
    if (typeof data.completed === "number" && typeof data.total === "number" && data.total) {
      parts.push(`${format.bytes(data.completed)} / ${format.bytes(data.total)}`);
    }
    if (typeof data.speed === "number" && data.speed > 0) {
      parts.push(`${format.bytes(data.speed)}/s`);
    }
    if (typeof data.eta === "number") parts.push(`reste ${format.duration(data.eta)}`);
    return parts.join(" · ");
  }

  function part(item, role) {
    return item.querySelector(`[data-role="${role}"]`);
  }

  function setText(element, text) {
    if (element && typeof text === "string") element.textContent = text;
  }

  // The label follows the job's state as the server reports it.
  function setState(item, state, text) {
    if (!state) return;
    item.dataset.jobState = state;
    const bar = item.querySelector("progress");
    if (bar) setText(item.querySelector(`label[for="${CSS.escape(bar.id)}"]`), text);
  }

  function showProgress(item, data) {
    setState(item, data.state, data.state_text);
    const bar = item.querySelector("progress");
    if (typeof data.fraction === "number" && bar) {
      const percent = Math.round(data.fraction * 100);
      bar.value = percent;
      bar.textContent = `${percent} %`;
      setText(document.getElementById(`${bar.id}-text`), `${percent} %`);
    }
    setText(part(item, "status"), data.status_text);
    if (item.dataset.jobKind === "pull_model") setText(part(item, "rate"), rateText(data));
    // Under a bandwidth cap: this pull's part of the line, and the line's use.
    if (typeof data.share_text === "string") setText(part(item, "share"), data.share_text);
    if (typeof data.bandwidth_text === "string") {
      for (const use of document.querySelectorAll('[data-role="bandwidth-use"]')) {
        use.textContent = data.bandwidth_text;
      }
    }
    // A pull the watchdog restarted says so, and why, until it ends.
    const restarts = part(item, "restarts");
    if (restarts && typeof data.restart_text === "string") {
      restarts.textContent = data.restart_text;
      restarts.hidden = false;
    }
  }

  const inPanel = (item) => Boolean(item.closest("#jobs"));

  function refreshPanel() {
    const panel = document.getElementById("jobs");
    if (panel && window.htmx) {
      window.htmx.ajax("GET", panel.dataset.jobsUrl, { target: "#jobs", swap: "outerHTML" });
    }
  }

  function refreshCard(item) {
    if (!item.isConnected || !window.htmx) return;
    const url = `/models/-/jobs/${encodeURIComponent(item.dataset.jobId)}`;
    window.htmx.ajax("GET", url, { target: item, swap: "outerHTML" });
  }

  function refresh(item) {
    if (inPanel(item)) refreshPanel();
    else refreshCard(item);
  }

  function finish(item, ok, data) {
    const id = item.dataset.jobId;
    const source = streams.get(id);
    if (source) source.close();
    streams.delete(id);
    if (ended.has(id)) return;
    ended.add(id);
    item.dataset.live = "ended";
    setState(item, ok ? "done" : data.state, data.state_text);
    if (!ok) {
      const message = part(item, "message");
      setText(message, data.message);
      if (message) message.hidden = !data.message;
    }
    webmgr.notifyJobFinished({
      id,
      kind: item.dataset.jobKind,
      state: ok ? "done" : data.state || "error",
      model: item.dataset.jobModel,
      server: item.dataset.jobServer,
      message: ok ? "" : data.message,
    });
    refresh(item);
    syncPullButtons();
    attach(); // a stream slot is free
  }

  function follow(item) {
    const id = item.dataset.jobId;
    if (streams.has(id) || ended.has(id) || streams.size >= MAX_STREAMS) return;
    const source = new EventSource(`/api/stream/progress?job_id=${encodeURIComponent(id)}`);
    streams.set(id, source);
    const parse = (event) => JSON.parse(event.data);
    // The item may be re-rendered while the job runs: update the current one.
    const current = () => document.querySelector(`[data-job-id="${CSS.escape(id)}"]`) || item;
    source.addEventListener("status", (event) => {
      const data = parse(event);
      const progress = data.job ? { ...data.job.progress, state: data.state, state_text: data.state_text } : data;
      showProgress(current(), progress);
    });
    source.addEventListener("progress", (event) => showProgress(current(), parse(event)));
    source.addEventListener("done", (event) => finish(current(), true, parse(event)));
    source.addEventListener("error", (event) => {
      // A named "error" event carries data; a bare one is a network cut (auto-retried).
      if (event.data) finish(current(), false, parse(event));
    });
  }

  // A pull of a variant runs: its « Télécharger » buttons wait for its end.
  function syncPullButtons() {
    const busy = new Set();
    for (const item of document.querySelectorAll('[data-job-kind="pull_model"]')) {
      if (ACTIVE.includes(item.dataset.jobState)) busy.add(item.dataset.jobModel);
    }
    for (const button of document.querySelectorAll("[data-pull-for]")) {
      if (busy.has(button.dataset.pullFor)) {
        button.disabled = true;
        button.dataset.busy = "1";
        button.title = "Téléchargement en cours";
      } else if (button.dataset.busy) {
        delete button.dataset.busy;
        button.removeAttribute("title");
        if (!button.hasAttribute("data-offline-disabled")) button.disabled = false;
      }
    }
  }

  // The terminal event is published just before the job record is saved, so an
  // item fetched at once may still say "running": fetch it again until it is
  // final, and only then refresh the list (its cache learns from that record).
  function attach() {
    let changed = false;
    const shown = [...document.querySelectorAll("[data-job-id]")];
    const ids = new Set(shown.map((item) => item.dataset.jobId));
    for (const [id, item] of unseen) {
      if (ids.has(id) || ended.has(id)) unseen.delete(id);
      else follow(item);
    }
    for (const item of shown) {
      const id = item.dataset.jobId;
      const active = ACTIVE.includes(item.dataset.jobState);
      if (item.dataset.live === "ended") continue;
      if (!ended.has(id)) {
        if (active) follow(item);
      } else if (active) {
        item.dataset.live = "ended";
        setTimeout(() => refresh(item), 300);
      } else if (!settled.has(id)) {
        settled.add(id);
        changed = true;
      }
    }
    if (changed) document.body.dispatchEvent(new CustomEvent("models-changed"));
    syncPullButtons();
    // Streams of items no longer shown are closed (unseen jobs keep theirs).
    for (const [id, source] of streams) {
      if (!unseen.has(id) && !document.querySelector(`[data-job-id="${CSS.escape(id)}"]`)) {
        source.close();
        streams.delete(id);
      }
    }
  }

  function unseenItem(job) {
    const item = document.createElement("li");
    Object.assign(item.dataset, {
      jobId: job.id,
      jobKind: job.kind,
      jobState: job.state,
      jobModel: job.params.model || "",
      jobServer: job.params.server || "",
    });
    return item;
  }

  // Jobs started elsewhere (another page, tab or device): the panel shows them
  // on its next refresh; the others are followed unseen.
  async function catchUp() {
    if (!webmgr.isOnline()) return;
    try {
      const answer = await fetch("/api/jobs?active=1", { headers: { Accept: "application/json" } });
      if (!answer.ok) return;
      const { jobs } = await answer.json();
      const missing = jobs.filter(
        (job) => KINDS.includes(job.kind) && !claimed.has(job.id)
          && !document.querySelector(`[data-job-id="${CSS.escape(job.id)}"]`),
      );
      for (const job of missing) unseen.set(job.id, unseenItem(job));
      if (missing.length && document.getElementById("jobs")) refreshPanel();
      attach();
    } catch {
      // the network went away: the page keeps what it shows
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    attach();
    catchUp();
  });
  // Folded groups the person opened stay open when the panel is refreshed.
  const FOLDS = ["data-finished-jobs", "data-more-jobs"];
  let opened = [];
  document.addEventListener("htmx:beforeSwap", () => {
    opened = FOLDS.filter((name) => document.querySelector(`details[${name}]`)?.open);
  });
  document.addEventListener("htmx:afterSettle", () => {
    for (const name of opened) {
      const fold = document.querySelector(`details[${name}]`);
      if (fold) fold.open = true;
    }
    attach();
  });
  window.addEventListener("online", () => {
    syncPullButtons();
    setTimeout(catchUp, 1000); // the connection is often not usable at once
  });
  document.addEventListener("htmx:afterRequest", (event) => {
    const form = event.detail.elt;
    if (form.id === "pull-form" && webmgr.accepted(event)) form.reset();
  });
})();
