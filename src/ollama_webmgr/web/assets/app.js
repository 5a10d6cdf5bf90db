// ollama-webmgr front-end glue. Loaded (deferred) after htmx and before Alpine.
// No inline scripts or eval anywhere: the Content-Security-Policy forbids both.
"use strict";

(() => {
  const TOAST_MS = 6000;
  const MAX_TOASTS = 3;
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

  // Numbers and sizes the French way, as web/formatting.py writes them (by hand,
  // not Intl.NumberFormat: its locale data costs a long task at start-up).
  const THIN_SPACE = "\u202f";
  const NBSP = "\u00a0";
  const UNITS = ["o", "ko", "Mo", "Go", "To", "Po"];

  function formatNumber(value, decimals = 1) {
    const factor = 10 ** decimals;
    const rounded = Math.round(Math.abs(value) * factor) / factor;
    const [whole, fraction] = String(rounded).split(".");
    const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, THIN_SPACE);
    return `${value < 0 && rounded ? "-" : ""}${grouped}${fraction ? `,${fraction}` : ""}`;
  }

  // One decimal below 10 of the unit (« 4,7 Go »), none above (« 815 Mo »).
  function formatBytes(bytes) {
    let value = Math.max(0, Number(bytes) || 0);
    let unit = 0;
    while (Math.round(value * 10) / 10 >= 1000 && unit < UNITS.length - 1) {
      value /= 1000;
      unit += 1;
    }
    return `${formatNumber(value, value < 10 ? 1 : 0)}${NBSP}${UNITS[unit]}`;
  }

  function formatDuration(seconds) {
    const total = Math.max(0, Math.round(seconds));
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const rest = total % 60;
    if (hours) return `${hours}${NBSP}h ${minutes}${NBSP}min`;
    if (minutes) return `${minutes}${NBSP}min ${rest}${NBSP}s`;
    return `${rest}${NBSP}s`;
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
    // A burst of news (update all, several jobs ending) keeps the page readable.
    while (region.children.length > MAX_TOASTS) region.firstElementChild.remove();
  }

  // What a fetch() error says ("Failed to fetch", "NetworkError…") never
  // reaches the page: this does.
  const NETWORK_ERROR = "Application injoignable : vérifiez la connexion.";

  window.webmgr = {
    showToast,
    formatDates,
    NETWORK_ERROR,
    format: { number: formatNumber, bytes: formatBytes, duration: formatDuration },
  };

  function csrfToken() {
    return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
  }

  document.addEventListener("DOMContentLoaded", () => {
    formatDates(document);
    // Messages flashed by the server before a redirect, shown as toasts.
    for (const toast of document.querySelectorAll("#toasts [data-flash]")) {
      setTimeout(() => toast.remove(), TOAST_MS);
    }
  });

  // htmx: CSRF header on every request, dates after swaps, toasts on errors.
  document.addEventListener("htmx:configRequest", (event) => {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });
  document.addEventListener("htmx:afterSettle", (event) => formatDates(event.detail.elt));
  document.addEventListener("toast", (event) => {
    showToast(event.detail?.message, event.detail?.level);
  });
  document.addEventListener("htmx:sendError", () => showToast(NETWORK_ERROR, "error"));
  // A refusal (4xx) is part of the conversation, not a fault: it is not an htmx
  // "error" (htmx-config in base.html), so nothing lands in the console; the
  // server names it in an HX-Trigger toast. 5xx stay errors.
  const accepted = (event) => event.detail.xhr && event.detail.xhr.status < 400;
  window.webmgr.accepted = accepted;
  document.addEventListener("htmx:afterRequest", (event) => {
    const { xhr } = event.detail;
    if (xhr && xhr.status >= 400 && !xhr.getResponseHeader("HX-Trigger")) {
      showToast(`Erreur ${xhr.status}.`, "error");
    }
    // A form of a bottom sheet did its work: the sheet closes (a swap may remove it).
    const sheet = event.detail.elt.closest?.("[popover]");
    if (accepted(event) && sheet?.matches(":popover-open")) sheet.hidePopover();
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
