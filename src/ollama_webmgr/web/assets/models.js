// Model pages: live progress of pull / update-check jobs over SSE.
// Each [data-job-id] item of the jobs panel that is still active gets an
// EventSource; the browser resumes it with Last-Event-ID after a network cut.
"use strict";

(() => {
  const streams = new Map();
  // Jobs whose end was shown: a panel rendered just before it must not re-follow them.
  const ended = new Set();
  // Ended jobs already seen final in a re-rendered panel (the list was refreshed).
  const settled = new Set();
  const ERROR_MESSAGES = {
    cancelled: "Tâche annulée.",
    interrupted: "Tâche interrompue : relancez-la.",
    ollama_unreachable: "Serveur Ollama injoignable.",
    ollama_timeout: "Délai dépassé : le serveur Ollama ne répond pas.",
    ollama_stream_error: "Le serveur Ollama a signalé une erreur.",
    not_found: "Modèle introuvable sur le serveur Ollama.",
  };
  const UNITS = ["o", "ko", "Mo", "Go", "To"];

  // By hand, not Intl.NumberFormat (its locale data costs a long task at
  // start-up): one decimal at most, a decimal comma, below 1000 of the unit.
  function formatBytes(bytes) {
    const tenths = (value) => Math.round(value * 10) / 10;
    let value = bytes;
    let unit = 0;
    while (tenths(value) >= 1000 && unit < UNITS.length - 1) {
      value /= 1000;
      unit += 1;
    }
    return `${String(tenths(value)).replace(".", ",")} ${UNITS[unit]}`;
  }

  function formatDuration(seconds) {
    const total = Math.max(0, Math.round(seconds));
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const rest = total % 60;
    if (hours) return `${hours} h ${minutes} min`;
    if (minutes) return `${minutes} min ${rest} s`;
    return `${rest} s`;
  }

  function rateText(data) {
    const parts = [];
    if (typeof data.completed === "number" && typeof data.total === "number" && data.total) {
      parts.push(`${formatBytes(data.completed)} / ${formatBytes(data.total)}`);
    }
    if (typeof data.speed === "number" && data.speed > 0) {
      parts.push(`${formatBytes(data.speed)}/s`);
    }
    if (typeof data.eta === "number") parts.push(`reste ${formatDuration(data.eta)}`);
    return parts.join(" · ");
  }

  function part(item, role) {
    return item.querySelector(`[data-role="${role}"]`);
  }

  function showProgress(item, data) {
    const bar = item.querySelector("progress");
    const text = bar ? document.getElementById(`${bar.id}-text`) : null;
    if (typeof data.fraction === "number" && bar) {
      const percent = Math.round(data.fraction * 100);
      bar.value = percent;
      bar.textContent = `${percent} %`;
      if (text) text.textContent = `${percent} %`;
    }
    if (data.status) part(item, "status").textContent = data.status;
    if (item.dataset.jobKind === "pull_model") part(item, "rate").textContent = rateText(data);
  }

  function refreshJobs() {
    const panel = document.getElementById("jobs");
    if (panel && window.htmx) {
      window.htmx.ajax("GET", panel.dataset.jobsUrl, { target: "#jobs", swap: "outerHTML" });
    }
  }

  function finish(item, ok, data) {
    const id = item.dataset.jobId;
    const source = streams.get(id);
    if (source) source.close();
    streams.delete(id);
    if (ended.has(id)) return;
    ended.add(id);
    const pull = item.dataset.jobKind === "pull_model";
    if (ok) {
      window.webmgr.showToast(pull ? "Téléchargement terminé." : "Vérification terminée.", "success");
    } else {
      const message = ERROR_MESSAGES[data.code] ?? "La tâche a échoué.";
      window.webmgr.showToast(message, data.state === "cancelled" ? "info" : "error");
    }
    refreshJobs();
  }

  function follow(item) {
    const id = item.dataset.jobId;
    if (streams.has(id) || ended.has(id)) return;
    if (!["queued", "running"].includes(item.dataset.jobState)) return;
    const source = new EventSource(`/api/stream/progress?job_id=${encodeURIComponent(id)}`);
    streams.set(id, source);
    const parse = (event) => JSON.parse(event.data);
    source.addEventListener("status", (event) => {
      const data = parse(event);
      showProgress(item, data.job ? data.job.progress : data);
    });
    source.addEventListener("progress", (event) => showProgress(item, parse(event)));
    source.addEventListener("done", (event) => finish(item, true, parse(event)));
    source.addEventListener("error", (event) => {
      // A named "error" event carries data; a bare one is a network cut (auto-retried).
      if (event.data) finish(item, false, parse(event));
    });
  }

  // The terminal event is published just before the job record is saved, so a
  // panel fetched at once may still say "running": fetch it again until it is
  // final, and only then refresh the list (its cache learns from that record).
  function attach(root) {
    let stale = false;
    let changed = false;
    for (const item of root.querySelectorAll("[data-job-id]")) {
      const id = item.dataset.jobId;
      if (!ended.has(id)) {
        follow(item);
      } else if (["queued", "running"].includes(item.dataset.jobState)) {
        stale = true;
      } else if (!settled.has(id)) {
        settled.add(id);
        changed = true;
      }
    }
    if (changed) document.body.dispatchEvent(new CustomEvent("models-changed"));
    if (stale) setTimeout(refreshJobs, 300);
    // Streams of items no longer shown are closed.
    for (const [id, source] of streams) {
      if (!document.querySelector(`[data-job-id="${CSS.escape(id)}"]`)) {
        source.close();
        streams.delete(id);
      }
    }
  }

  // Jobs started elsewhere (another tab or device) appear on the next refresh.
  async function catchUp() {
    try {
      const answer = await fetch("/api/jobs?active=1", { headers: { Accept: "application/json" } });
      if (!answer.ok) return;
      const { jobs } = await answer.json();
      const missing = jobs.some(
        (job) => ["pull_model", "check_update"].includes(job.kind)
          && !document.querySelector(`[data-job-id="${CSS.escape(job.id)}"]`),
      );
      if (missing) refreshJobs();
    } catch {
      // offline: the page keeps what it shows
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!document.getElementById("jobs")) return;
    attach(document);
    catchUp();
  });
  document.addEventListener("htmx:afterSettle", () => attach(document));
  document.addEventListener("htmx:afterRequest", (event) => {
    const form = event.detail.elt;
    if (form.id === "pull-form" && event.detail.successful) form.reset();
  });
})();
