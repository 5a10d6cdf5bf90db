// Installable app: service worker registration, "Installer" button, offline mode
// and job notifications. Loaded (deferred) after app.js and before Alpine.
//
// Offline convention: every element matching NETWORK_ACTIONS (htmx writes, forms
// posted to the server, anything marked data-network-action) is disabled while
// the browser is offline, with the title « Indisponible hors ligne », and enabled
// again when the network returns. htmx requests are blocked with a toast.
"use strict";

(() => {
  const NETWORK_ACTIONS = [
    "[data-network-action]", "[hx-post]", "[hx-put]", "[hx-patch]", "[hx-delete]",
    'form[method="post" i]',
  ].join(",");
  const SUBMITTERS = 'button:not([type="button"]):not([type="reset"]), input[type="submit"]';
  const OFFLINE_TITLE = "Indisponible hors ligne";
  const OFFLINE_MESSAGE = "Indisponible hors ligne : l’action reprendra quand le réseau sera revenu.";
  const webmgr = window.webmgr;
  const state = { online: navigator.onLine, installPrompt: null, lastToast: 0 };

  // ---- Offline mode -------------------------------------------------------------

  function toastOffline() {
    // One toast per burst of blocked requests (polling must not flood the page).
    if (Date.now() - state.lastToast < 2000) return;
    state.lastToast = Date.now();
    webmgr.showToast(OFFLINE_MESSAGE, "error");
  }

  // The elements to disable: the action itself, or a form's submit buttons.
  function controlsOf(element) {
    return element instanceof HTMLFormElement
      ? [...element.querySelectorAll(SUBMITTERS)] : [element];
  }

  function disableControl(control) {
    if (control.hasAttribute("data-offline-disabled")) return;
    const native = "disabled" in control && !(control instanceof HTMLAnchorElement);
    if (native && control.disabled) return; // disabled for another reason: leave it
    control.setAttribute("data-offline-disabled", native ? "native" : "aria");
    if (control.hasAttribute("title")) control.dataset.onlineTitle = control.title;
    control.title = OFFLINE_TITLE;
    if (native) control.disabled = true;
    else control.setAttribute("aria-disabled", "true");
  }

  function enableControl(control) {
    const how = control.getAttribute("data-offline-disabled");
    control.removeAttribute("data-offline-disabled");
    if (how === "native") control.disabled = false;
    else control.removeAttribute("aria-disabled");
    if ("onlineTitle" in control.dataset) {
      control.title = control.dataset.onlineTitle;
      delete control.dataset.onlineTitle;
    } else {
      control.removeAttribute("title");
    }
  }

  function applyNetworkState(root = document) {
    if (state.online) {
      for (const control of root.querySelectorAll("[data-offline-disabled]")) {
        enableControl(control);
      }
    } else {
      for (const action of root.querySelectorAll(NETWORK_ACTIONS)) {
        controlsOf(action).forEach(disableControl);
      }
    }
    const banner = document.getElementById("offline-banner");
    if (banner) banner.hidden = state.online;
    document.documentElement.classList.toggle("is-offline", !state.online);
  }

  function setOnline(online) {
    state.online = online;
    applyNetworkState();
    // Alpine may be loaded but not started yet (no store): alpine:init reads state.
    const store = window.Alpine?.store("network");
    if (store) store.online = online;
  }

  window.addEventListener("online", () => setOnline(true));
  window.addEventListener("offline", () => setOnline(false));
  document.addEventListener("DOMContentLoaded", () => applyNetworkState());
  document.addEventListener("htmx:afterSettle", (event) => {
    if (!state.online) applyNetworkState(event.detail.elt);
  });
  document.addEventListener("htmx:beforeRequest", (event) => {
    if (state.online) return;
    event.preventDefault();
    const config = event.detail.requestConfig || {};
    // Background polling fails quietly; what the user asked for says why.
    if (config.verb !== "get" || config.triggeringEvent?.isTrusted) toastOffline();
  });
  // Plain forms and links marked as network actions (htmx ones are covered above).
  document.addEventListener("submit", (event) => {
    if (!state.online && event.target.matches?.(NETWORK_ACTIONS)) {
      event.preventDefault();
      toastOffline();
    }
  }, true);
  document.addEventListener("click", (event) => {
    const action = event.target.closest?.('[aria-disabled="true"][data-offline-disabled]');
    if (action) {
      event.preventDefault();
      event.stopImmediatePropagation();
      toastOffline();
    }
  }, true);

  // ---- Service worker and installation -----------------------------------------

  if ("serviceWorker" in navigator) {
    window.addEventListener("load", () => {
      navigator.serviceWorker.register("/service-worker.js", { scope: "/" }).catch(() => {
        webmgr.showToast("Le mode hors ligne n’a pas pu être activé.", "error");
      });
    });
  }

  function isInstalled() {
    return window.matchMedia("(display-mode: standalone)").matches
      || navigator.standalone === true;
  }

  window.addEventListener("beforeinstallprompt", (event) => {
    event.preventDefault(); // our button offers it instead of the browser's bar
    state.installPrompt = event;
    document.dispatchEvent(new CustomEvent("webmgr:installable"));
  });
  window.addEventListener("appinstalled", () => {
    state.installPrompt = null;
    document.dispatchEvent(new CustomEvent("webmgr:installable"));
  });

  // ---- Notifications -------------------------------------------------------------

  function notificationsSupported() {
    return "Notification" in window && "serviceWorker" in navigator;
  }

  // Called from a click only: browsers ignore permission requests without a gesture.
  async function enableNotifications() {
    if (!notificationsSupported()) return "unsupported";
    const permission = await Notification.requestPermission();
    if (permission === "granted") {
      webmgr.showToast("Notifications activées.", "success");
    } else {
      webmgr.showToast("Notifications refusées : réactivez-les dans les réglages du navigateur.", "error");
    }
    document.dispatchEvent(new CustomEvent("webmgr:notifications"));
    return permission;
  }

  // Titles per job kind: [done, failed, cancelled].
  const JOB_TEXTS = {
    pull: ["Téléchargement terminé", "Échec du téléchargement", "Téléchargement annulé"],
    update: [
      "Vérification des mises à jour terminée",
      "Échec de la vérification des mises à jour",
      "Vérification des mises à jour annulée",
    ],
    eject: ["Modèle éjecté", "Échec de l’éjection forcée", "Éjection annulée"],
    other: ["Tâche terminée", "Échec de la tâche", "Tâche annulée"],
  };

  function jobTexts(job) {
    const kind = String(job.kind || "");
    const texts = kind.startsWith("pull") ? JOB_TEXTS.pull
      : kind.includes("update") ? JOB_TEXTS.update
        : kind.includes("eject") ? JOB_TEXTS.eject : JOB_TEXTS.other;
    const index = job.state === "done" ? 0 : job.state === "cancelled" ? 2 : 1;
    const model = job.model || (texts === JOB_TEXTS.update ? "tous les modèles" : "");
    const subject = [model, job.server && `sur ${job.server}`].filter(Boolean).join(" ");
    const body = index === 1 ? [subject, job.message].filter(Boolean).join(" : ") : subject;
    return { title: job.title || texts[index], body: job.body || body };
  }

  // Announce a finished job (state "done", or "error"/"cancelled"/"interrupted"):
  // a system notification through the service worker (shown even when the tab is
  // in the background) when allowed, and a toast while the page is visible.
  async function notifyJobFinished(job) {
    const { title, body } = jobTexts(job);
    if (document.visibilityState === "visible") {
      const level = { done: "success", cancelled: "info" }[job.state] || "error";
      webmgr.showToast(body ? `${title} : ${body}` : title, level);
    }
    if (!notificationsSupported() || Notification.permission !== "granted") return false;
    const registration = await navigator.serviceWorker.ready;
    await registration.showNotification(title, {
      body,
      lang: "fr",
      tag: job.id ? `job-${job.id}` : undefined,
      icon: document.querySelector('link[rel="apple-touch-icon"]')?.href,
      data: { url: job.url || window.location.pathname, jobId: job.id },
    });
    return true;
  }

  Object.assign(webmgr, {
    notifyJobFinished,
    enableNotifications,
    isOnline: () => state.online,
    applyNetworkState,
  });

  // ---- Alpine components -----------------------------------------------------------

  document.addEventListener("alpine:init", () => {
    const Alpine = window.Alpine;
    Alpine.store("network", { online: state.online });

    // « Installer »: shown only while the browser offers installation.
    Alpine.data("installButton", () => ({
      available: false,
      init() {
        this.refresh();
        document.addEventListener("webmgr:installable", () => this.refresh());
      },
      refresh() {
        this.available = state.installPrompt !== null && !isInstalled();
      },
      async install() {
        const prompt = state.installPrompt;
        if (!prompt) return;
        state.installPrompt = null; // a prompt can be shown once
        this.refresh();
        await prompt.prompt();
      },
    }));

    // « Activer les notifications »: shown while the permission was never asked.
    Alpine.data("notificationsButton", () => ({
      askable: false,
      init() {
        this.refresh();
        document.addEventListener("webmgr:notifications", () => this.refresh());
      },
      refresh() {
        this.askable = notificationsSupported() && Notification.permission === "default";
      },
      enable() {
        enableNotifications();
      },
    }));
  });
})();
