// The language toggle (a.kc-lang) goes through /-/lang?to=…&next=<this page>; a URL's #fragment never
// reaches the server, so the toggle carries the page's fragment itself and the browser keeps it across the
// redirect (a Location without a fragment inherits the request's). Kept current as the fragment changes.
(() => {
  const toggle = document.querySelector("a.kc-lang");
  if (!toggle) return;
  const keep = () => { toggle.hash = location.hash; };
  keep();
  window.addEventListener("hashchange", keep);
})();
