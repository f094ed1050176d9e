// Every page: sizes that come from data (a running sync's progress bar) are set here from data-width,
// because the Content-Security-Policy refuses style="..." attributes. Runs again on each htmx swap.
(function () {
  "use strict";
  function applyWidths(root) {
    var elements = Array.prototype.slice.call(root.querySelectorAll("[data-width]"));
    if (root.matches && root.matches("[data-width]")) elements.push(root);
    elements.forEach(function (element) {
      element.style.width = Math.max(0, Math.min(100, Number(element.dataset.width) || 0)) + "%";
    });
  }
  if (window.htmx) {
    window.htmx.onLoad(applyWidths);
  } else {
    document.addEventListener("DOMContentLoaded", function () { applyWidths(document); });
  }
})();
