// Datasette 0.65's table page sets DATASETTE_ALLOW_FACET in an inline script; this file reads the
// value from its own data-allow-facet attribute instead, so the Content-Security-Policy needs none.
window.DATASETTE_ALLOW_FACET = document.currentScript.dataset.allowFacet === "true";
