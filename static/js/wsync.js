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
// A search box with data-filter-rows="<selector>" hides the rows whose data-feed-name does not contain its
// text, and the cards ([data-filter-group]) left without a visible row. Without script the form's GET does it.
(function () {
  "use strict";
  function filter(input) {
    var text = input.value.trim().toLowerCase();
    var rows = document.querySelectorAll(input.dataset.filterRows);
    Array.prototype.forEach.call(rows, function (row) {
      row.hidden = text !== "" && row.dataset.feedName.indexOf(text) === -1;
    });
    var shown = 0;
    Array.prototype.forEach.call(document.querySelectorAll("[data-filter-group]"), function (group) {
      var visible = group.querySelectorAll("tr[data-feed-name]:not([hidden])").length;
      group.hidden = visible === 0;
      shown += visible;
    });
    var empty = document.getElementById("feed-filter-empty");
    if (empty) empty.classList.toggle("d-none", shown !== 0);
  }
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("input[data-filter-rows]"), function (input) {
      input.addEventListener("input", function () { filter(input); });
      input.form.addEventListener("submit", function (event) { event.preventDefault(); filter(input); });
      if (input.value) filter(input);
    });
  });
})();
