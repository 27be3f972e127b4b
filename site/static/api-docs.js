// Runnable examples on /api/v1/docs: send the URL in the form with fetch and show what came back; open the
// folded part (<details>) a link or the address points at (#list_targets-parameters).
(function () {
  "use strict";
  var root = document.querySelector(".api-docs");
  var failed = (root && root.getAttribute("data-request-failed")) || "Request failed";
  var shown = ["content-type", "etag", "cache-control", "x-data-release", "access-control-allow-origin", "link"];
  function render(pre, response, text) {
    var lines = ["HTTP " + response.status + " " + response.statusText];
    shown.forEach(function (name) {
      var value = response.headers.get(name);
      if (value) lines.push(name + ": " + value);
    });
    var body = text;
    if ((response.headers.get("content-type") || "").indexOf("json") !== -1) {
      try { body = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { body = text; }
    }
    pre.textContent = lines.join("\n") + "\n\n" + body;
  }
  function unfold(id) {
    var target = id && document.getElementById(id);
    if (target && target.tagName === "DETAILS") target.open = true;
  }
  function unfoldHash() { unfold(decodeURIComponent(location.hash.slice(1))); }
  unfoldHash();
  window.addEventListener("hashchange", unfoldHash);
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest('a[href^="#"]');
    if (link) unfold(decodeURIComponent(link.getAttribute("href").slice(1)));
  });
  document.querySelectorAll("form.try").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var pre = form.nextElementSibling;
      var url = form.elements.url.value;
      var accept = form.elements.accept ? form.elements.accept.value : "application/json";
      pre.hidden = false;
      pre.textContent = "GET " + url + " …";
      fetch(url, { headers: { Accept: accept } })
        .then(function (response) {
          return response.text().then(function (text) { render(pre, response, text); });
        })
        .catch(function (error) { pre.textContent = failed + ": " + error; });
    });
  });
})();
