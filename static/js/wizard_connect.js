// Connect step: "Copy" next to each "Prepare your warehouse" code step. Delegated from the body,
// because the panel is swapped by HTMX as names are typed.
(function () {
  "use strict";
  function say(button, text) {
    var label = button.querySelector(".copy-label");
    if (!label) return;
    label.textContent = text;
    window.clearTimeout(button._copyTimer);
    button._copyTimer = window.setTimeout(function () { label.textContent = "Copy"; }, 2000);
  }
  function selectText(code) {
    var range = document.createRange();
    range.selectNodeContents(code);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  document.body.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var code = button.closest(".prepare-step").querySelector("code");
    if (!code) return;
    // The clipboard API needs a secure context (https or localhost); elsewhere the text is selected
    // so that Ctrl+C copies it.
    if (!navigator.clipboard || !window.isSecureContext) {
      selectText(code);
      say(button, "Press Ctrl+C");
      return;
    }
    navigator.clipboard.writeText(code.textContent).then(
      function () { say(button, "Copied"); },
      function () { selectText(code); say(button, "Press Ctrl+C"); }
    );
  });
})();
