// Every wizard page: a fragment request that fails says so where its answer would have appeared,
// instead of leaving a spinner that never ends.
(function () {
  "use strict";
  var messages = {
    403: "Your role in this workspace cannot change this feed.",
    404: "This feed or step no longer exists. Reload the page.",
  };
  document.body.addEventListener("htmx:responseError", function (event) {
    var target = event.detail.target;
    if (!target) return;
    var status = event.detail.xhr.status;
    var alert = document.createElement("div");
    alert.className = "alert alert-danger small my-2";
    alert.setAttribute("role", "alert");
    alert.textContent = messages[status] || "Something went wrong on the server (HTTP " + status + "). Reload the page and try again.";
    target.replaceChildren(alert);
  });
  document.body.addEventListener("htmx:sendError", function (event) {
    var target = event.detail.target;
    if (target) target.replaceChildren(document.createTextNode("The server could not be reached. Check your connection and try again."));
  });
})();
// Every wizard form: an error shown under a field goes away once that field is changed, and all of them
// once Test connection succeeds, so a fixed field never keeps its old complaint next to a good answer.
(function () {
  "use strict";
  function clearIn(box) {
    Array.prototype.forEach.call(box.querySelectorAll(".is-invalid"), function (el) { el.classList.remove("is-invalid"); });
    Array.prototype.forEach.call(box.querySelectorAll(".invalid-feedback, ul.errorlist"), function (el) { el.remove(); });
  }
  function fieldChanged(event) {
    var field = event.target;
    if (!field.form || !field.closest) return;
    var box = field.closest("[id^='div_id_'], fieldset[id^='group-']");
    if (box) clearIn(box);
  }
  document.body.addEventListener("input", fieldChanged);
  document.body.addEventListener("change", fieldChanged);
  document.body.addEventListener("htmx:afterSwap", function () {
    var result = document.getElementById("test-result");
    var form = result && result.closest("form");
    if (form && result.querySelector(".alert-success")) clearIn(form);
  });
})();
