// Starts the vendored Swagger UI on /api/docs. A file of its own so the page needs no inline
// script (the Content-Security-Policy forbids it) and no CDN (the docs work offline).
(function () {
  "use strict";
  var target = document.getElementById("swagger-ui");
  if (!target || typeof window.SwaggerUIBundle !== "function") { return; }
  window.SwaggerUIBundle({
    url: target.getAttribute("data-openapi-url") || "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    // The validator badge would call validator.swagger.io: keep the page off the network.
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
}());
