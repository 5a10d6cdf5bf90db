// Running / search / dashboard actions: forced eject, pulls, live job progress.
// Plain event delegation (no Alpine component), so buttons swapped in by htmx
// work too. The SSE route may be missing on an older server: every step fails
// soft with a French message.
(() => {
  "use strict";

  const STATUS_TEXT = {
    unloading: "Déchargement…",
    retrying: "Nouvel essai…",
    ejected: "Éjecté",
    queued: "En attente…",
    running: "En cours…",
  };

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function toast(message, level) {
    if (window.webmgr && window.webmgr.showToast) {
      window.webmgr.showToast(message, level);
    }
  }

  async function postJson(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = {};
    try {
      data = await response.json();
    } catch (error) {
      data = {};
    }
    if (!response.ok) {
      const message = data.error && data.error.message ? data.error.message : "Erreur " + response.status;
      throw new Error(message);
    }
    return data;
  }

  // Follow a job on the SSE route; calls onEvent(type, data), resolves at the end.
  function followJob(jobId, onEvent) {
    return new Promise((resolve) => {
      if (!("EventSource" in window)) {
        resolve("unknown");
        return;
      }
      const source = new EventSource("/api/stream/progress?job_id=" + encodeURIComponent(jobId));
      const parse = (event) => {
        try {
          return JSON.parse(event.data);
        } catch (error) {
          return {};
        }
      };
      ["status", "progress"].forEach((type) => {
        source.addEventListener(type, (event) => onEvent(type, parse(event)));
      });
      source.addEventListener("done", (event) => {
        onEvent("done", parse(event));
        source.close();
        resolve("done");
      });
      source.addEventListener("error", (event) => {
        if (event.data) {
          onEvent("error", parse(event));
        }
        source.close();
        resolve("error");
      });
    });
  }

  function setText(element, text) {
    if (element) {
      element.textContent = text;
    }
  }

  async function forceEject(button) {
    const status = button.parentElement.querySelector("[data-eject-status]");
    const name = button.dataset.name;
    button.disabled = true;
    setText(status, "Éjection forcée…");
    try {
      const job = await postJson("/api/eject/force", { name, server: button.dataset.server });
      const end = await followJob(job.job_id, (type, data) => {
        if (type === "status" && data.status) {
          setText(status, STATUS_TEXT[data.status] || data.status);
        } else if (type === "error") {
          setText(status, "Échec : " + (data.message || "le modèle est toujours chargé."));
        }
      });
      if (end === "done") {
        setText(status, "Éjecté");
        toast(name + " éjecté.", "success");
      }
    } catch (error) {
      setText(status, error.message);
      toast(error.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  async function pull(button) {
    const status = button.parentElement.querySelector("[data-pull-status]");
    const name = button.dataset.name;
    const target = button.dataset.server;
    const body = target === "all" ? { name, servers: "all" } : { name, server: target };
    button.disabled = true;
    setText(status, "Téléchargement lancé…");
    try {
      const job = await postJson("/api/models/pull", body);
      const end = await followJob(job.job_id, (type, data) => {
        if (type === "progress" && typeof data.fraction === "number") {
          setText(status, Math.round(data.fraction * 100) + " %");
        } else if (type === "error") {
          setText(status, "Échec : " + (data.message || "téléchargement interrompu."));
        }
      });
      if (end === "done") {
        setText(status, "Téléchargé");
        toast(name + " téléchargé.", "success");
      }
    } catch (error) {
      setText(status, error.message);
      toast(error.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  function watchDashboardJobs(root) {
    root.querySelectorAll("[data-job-id]").forEach((item) => {
      if (item.dataset.watched) {
        return;
      }
      item.dataset.watched = "1";
      const id = item.dataset.jobId;
      const bar = item.querySelector("progress");
      const text = item.querySelector("#job-" + CSS.escape(id) + "-text");
      followJob(id, (type, data) => {
        if (type === "progress" && typeof data.fraction === "number" && bar) {
          bar.value = Math.round(data.fraction * 100);
          setText(text, Math.round(data.fraction * 100) + " %");
        } else if (type === "done") {
          setText(text, "Terminé");
        } else if (type === "error") {
          setText(text, "Échec");
        }
      });
    });
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-force-eject], button[data-pull]");
    if (!button || button.disabled) {
      return;
    }
    if (button.hasAttribute("data-force-eject")) {
      forceEject(button);
    } else {
      pull(button);
    }
  });
  document.addEventListener("DOMContentLoaded", () => watchDashboardJobs(document));
  document.addEventListener("htmx:afterSettle", (event) => watchDashboardJobs(event.detail.elt));
})();
