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
