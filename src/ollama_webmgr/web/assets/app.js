// ollama-webmgr front-end glue. Loaded (deferred) after htmx and before Alpine.
// No inline scripts or eval anywhere: the Content-Security-Policy forbids both.
"use strict";

(() => {
  const TOAST_MS = 6000;
  // Dates are formatted by hand, not with Intl.DateTimeFormat: the first Intl
  // formatter of a page loads the locale data, a long task at start-up (about
  // 25 ms here, 100 ms on a mid-range phone). JJ/MM/AAAA is all we need.
  const pad = (number) => String(number).padStart(2, "0");
  const formatDay = (date) =>
    `${pad(date.getDate())}/${pad(date.getMonth() + 1)}/${date.getFullYear()}`;
  const formatDayTime = (date) =>
    `${formatDay(date)} ${pad(date.getHours())}:${pad(date.getMinutes())}`;

  // <time datetime="..."> -> JJ/MM/AAAA (data-format="datetime" adds the hour).
  function formatDates(root) {
    for (const el of root.querySelectorAll("time[datetime]")) {
      const date = new Date(el.getAttribute("datetime"));
      if (Number.isNaN(date.getTime())) continue;
      el.textContent = el.dataset.format === "datetime" ? formatDayTime(date) : formatDay(date);
      el.title = formatDayTime(date);
    }
  }

  function showToast(message, level = "info") {
    const region = document.getElementById("toasts");
    if (!region || !message) return;
    const toast = document.createElement("div");
    const kind = ["success", "error"].includes(level) ? level : "info";
    toast.className = `toast toast-${kind}`;
    toast.textContent = message;
    region.append(toast);
    setTimeout(() => toast.remove(), TOAST_MS);
  }
  window.webmgr = { showToast, formatDates };

  function csrfToken() {
    return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
  }

  document.addEventListener("DOMContentLoaded", () => formatDates(document));

  // htmx: CSRF header on every request, dates after swaps, toasts on errors.
  document.addEventListener("htmx:configRequest", (event) => {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });
  document.addEventListener("htmx:afterSettle", (event) => formatDates(event.detail.elt));
  document.addEventListener("toast", (event) => {
    showToast(event.detail?.message, event.detail?.level);
  });
  document.addEventListener("htmx:sendError", () => {
    showToast("Application injoignable : vérifiez la connexion.", "error");
  });
  document.addEventListener("htmx:responseError", (event) => {
    // The server names the error in an HX-Trigger toast; this covers the rest.
    if (!event.detail.xhr.getResponseHeader("HX-Trigger")) {
      showToast(`Erreur ${event.detail.xhr.status}.`, "error");
    }
  });

  document.addEventListener("alpine:init", () => {
    const Alpine = window.Alpine;

    // The server <select> reloads the page for the chosen server.
    Alpine.data("serverPicker", () => ({
      submit() {
        this.$root.requestSubmit();
      },
    }));

    // One shared confirmation dialog. It answers htmx's hx-confirm (instead of
    // window.confirm) and can be opened from JS with webmgr.confirm(question).
    Alpine.data("confirmDialog", () => ({
      question: "",
      pending: null,
      init() {
        document.addEventListener("htmx:confirm", (event) => {
          if (!event.detail.question) return;
          event.preventDefault();
          this.ask(event.detail.question).then((ok) => {
            if (ok) event.detail.issueRequest(true);
          });
        });
        window.webmgr.confirm = (question) => this.ask(question);
      },
      ask(question) {
        this.question = question;
        this.$refs.dialog.showModal();
        return new Promise((resolve) => { this.pending = resolve; });
      },
      settle(answer) {
        const resolve = this.pending;
        this.pending = null;
        if (this.$refs.dialog.open) this.$refs.dialog.close();
        if (resolve) resolve(answer);
      },
      accept() { this.settle(true); },
      cancel() { this.settle(false); },
    }));
  });
})();
