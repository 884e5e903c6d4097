// Starts Swagger UI on the live contract. A file of its own, not an inline
// script, so that the page's Content-Security-Policy can say script-src 'self'.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    // The contract as served for this page: its one server is the one
    // that served the page (PUBLIC_URL when set), not the contract's
    // http://localhost:{port}/api, so the server block shows it.
    url: "/api/docs/openapi.yaml",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
    validatorUrl: null, // no calls to swagger.io: the page works offline
    tryItOutEnabled: false,
    // "Try it out" calls the origin of the page, the only one its CSP
    // allows (connect-src 'self'), even where PUBLIC_URL names another.
    requestInterceptor: function (req) {
      if (!req.loadSpec) {
        var u = new URL(req.url, window.location.href);
        if (u.pathname.indexOf("/api/") === 0) {
          req.url = window.location.origin + u.pathname + u.search;
        }
      }
      return req;
    },
  });
});
