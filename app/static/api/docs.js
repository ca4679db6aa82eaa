// The /api/v1/docs page: Swagger UI over the app's own OpenAPI document (a file, not an inline script: the CSP
// allows scripts from the app's origin only). No validator badge: it would call a server on the internet.
(function () {
  var node = document.getElementById("api-docs");
  window.SwaggerUIBundle({url: node.dataset.spec, domNode: node, validatorUrl: null, deepLinking: false});
})();
