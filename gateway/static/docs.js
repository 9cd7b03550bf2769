// The API documentation page's one script, served by us: the page itself carries no inline script.
SwaggerUIBundle({url: "/api/v1/openapi.json", dom_id: "#ui"});
