// Starts Swagger UI on /api/docs. It lives here, not in the page, because the
// Content-Security-Policy forbids inline scripts.
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") return;
  window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    // no call to the online validator: the page works offline
    validatorUrl: null,
  });
});
