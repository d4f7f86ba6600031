// Console-wide behaviour (no framework): keep the current page and filters when switching language.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    const link = event.target instanceof Element ? event.target.closest("a[data-lang]") : null;
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) {
      return;
    }
    // The server-rendered href predates any HTMX navigation; rebuild it from the current URL.
    const url = new URL(window.location.href);
    url.searchParams.set("lang", link.dataset.lang);
    event.preventDefault();
    window.location.assign(url.toString());
  });
})();
