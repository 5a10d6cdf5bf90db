// Cluster pages (Passerelle, Serveurs): « Copier » buttons and plain forms that
// ask first. Event delegation, so content swapped in by htmx works too.
(() => {
  "use strict";

  function toast(message, level) {
    if (window.webmgr && window.webmgr.showToast) window.webmgr.showToast(message, level);
  }

  // <button data-copy="#selector" data-copied="Message">: copies the element's text.
  // Without the Clipboard API (plain HTTP on a LAN address) the text is selected
  // so the person can copy it with the keyboard or the system menu.
  async function copy(button) {
    const source = document.querySelector(button.dataset.copy);
    if (!source) return;
    const text = source.textContent.trim();
    try {
      if (!navigator.clipboard) throw new Error("no clipboard");
      await navigator.clipboard.writeText(text);
      button.textContent = "Copié";
      toast(button.dataset.copied || "Copié dans le presse-papiers.", "success");
    } catch {
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      toast("Copie impossible ici : le texte est sélectionné, copiez-le (Ctrl+C).", "info");
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-copy]");
    if (button) {
      event.preventDefault();
      copy(button);
    }
  });

  // <form data-confirm="Question ?">: asked with the shared French dialog first.
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
    if (form.dataset.confirmed === "1") return;
    event.preventDefault();
    const ask = window.webmgr && window.webmgr.confirm;
    const yes = ask ? await ask(form.dataset.confirm) : window.confirm(form.dataset.confirm);
    if (yes) {
      form.dataset.confirmed = "1";
      form.requestSubmit(event.submitter || undefined);
    }
  });
})();
