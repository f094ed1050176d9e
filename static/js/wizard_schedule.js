// Sync-settings step: show only the fields that apply to the chosen sync mode and schedule type.
(function () {
  "use strict";
  var form = document.getElementById("schedule-form");
  if (!form) return;
  function checked(name) {
    var input = form.querySelector('input[name="' + name + '"]:checked');
    return input ? input.value : "";
  }
  function show(id, visible) {
    var el = document.getElementById(id);
    if (el) el.hidden = !visible;
  }
  function sync() {
    var mode = checked("sync_mode"), type = checked("schedule_type");
    show("incremental-fields", mode === "incremental");
    show("full-warning", mode === "full");
    show("frequency-field", type === "interval");
    show("start-field", type === "interval" || type === "once");
    show("end-field", type === "interval");  // an end date applies only to a repeating schedule
  }
  form.addEventListener("change", sync);
  sync();
})();
