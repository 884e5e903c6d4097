// Starts Swagger UI on the live contract. A file of its own, not an inline
// script, so that the page's Content-Security-Policy can say script-src 'self'.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.yaml",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
    validatorUrl: null, // no calls to swagger.io: the page works offline
    tryItOutEnabled: false,
    // The contract's server is http://localhost:{port}/api, which is right
    // for generated clients and Postman but not for a page served by a
    // deployed instance: "Try it out" calls the instance that served it.
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
