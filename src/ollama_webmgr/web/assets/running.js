// « En cours » page: the forced eject (« Forcer »), a job of the JSON API
// followed over SSE. Plain event delegation (no Alpine component), so buttons
// swapped in by the page's polling work too. Every failure reads in French.
(() => {
  "use strict";

  const { webmgr } = window;
  // A failure whose message is ours (French); any other exception is a fault of
  // the page, never shown as it is.
  class Refusal extends Error {}
  const UNEXPECTED = "Erreur inattendue de la page : rechargez-la puis réessayez.";

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  async function postJson(url, body) {
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
        body: JSON.stringify(body),
        credentials: "same-origin",
      });
    } catch {
      throw new Refusal(webmgr.NETWORK_ERROR); // never the browser's English
    }
    let data = {};
    try {
      data = await response.json();
    } catch {
      data = {};
    }
    if (!response.ok) {
      throw new Refusal(data.error?.message || `Erreur ${response.status}.`);
    }
    return data;
  }

  // Follow a job on the SSE route; calls onEvent(type, data), resolves at the end
  // with [type, data] of the terminal event.
  function followJob(jobId, onEvent) {
    return new Promise((resolve) => {
      const source = new EventSource(`/api/stream/progress?job_id=${encodeURIComponent(jobId)}`);
      const parse = (event) => {
        try {
          return JSON.parse(event.data);
        } catch {
          return {};
        }
      };
      ["status", "progress"].forEach((type) => {
        source.addEventListener(type, (event) => onEvent(type, parse(event)));
      });
      source.addEventListener("done", (event) => {
        source.close();
        resolve(["done", parse(event)]);
      });
      source.addEventListener("error", (event) => {
        // A named "error" event carries data; a bare one is a network cut that
        // the browser retries, unless the stream is closed for good.
        if (event.data) {
          source.close();
          resolve(["error", parse(event)]);
        } else if (source.readyState === EventSource.CLOSED) {
          resolve(["error", { state: "error", message: webmgr.NETWORK_ERROR }]);
        }
      });
    });
  }

  function setText(element, text) {
    if (element && text) element.textContent = text;
  }

  async function forceEject(button) {
    const name = button.dataset.name;
    const server = button.dataset.server;
    const question = `Forcer le déchargement de ${name} sur ${server} ? `
      + "Une génération en cours avec ce modèle sera interrompue.";
    if (!(await webmgr.confirm(question))) return;
    const status = button.parentElement.querySelector("[data-eject-status]");
    button.disabled = true;
    setText(status, "Éjection forcée…");
    const job = { kind: "eject_force", model: name, server };
    try {
      const started = await postJson("/api/eject/force", { name, server });
      job.id = started.job_id;
      webmgr.claimJob(job.id); // announced here, not by jobs.js
      const [end, data] = await followJob(started.job_id, (type, event) => {
        setText(status, event.status_text);
      });
      job.state = end === "done" ? "done" : data.state || "error";
      job.message = data.message;
      setText(status, end === "done" ? "Éjecté" : `Échec : ${data.message}`);
      // The list shows it gone now rather than at the next poll.
      if (end === "done" && window.htmx && document.getElementById("running")) {
        window.htmx.ajax("GET", "/running/table", { target: "#running", swap: "innerHTML" });
      }
    } catch (error) {
      job.state = "error";
      job.message = error instanceof Refusal ? error.message : UNEXPECTED;
      setText(status, job.message);
      if (!(error instanceof Refusal)) console.error(error);
    } finally {
      button.disabled = false;
      if (button.isConnected) webmgr.applyNetworkState(button.parentElement);
    }
    webmgr.notifyJobFinished(job);
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-force-eject]");
    if (button && !button.disabled) forceEject(button);
  });
})();
