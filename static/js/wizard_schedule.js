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
    show("until-field", mode === "incremental" && clockIterator());
  }
  // "Stop at" ends a date or time iterator (feeds/schedule/rules.py until_applies), not a number.
  function clockIterator() {
    var select = document.getElementById("id_iterator_type");
    if (!select || !select.value) return true;
    return JSON.parse(select.dataset.clockTypes || "[]").indexOf(select.value) >= 0;
  }
  form.addEventListener("change", sync);
  sync();
  // Picking the iterator column fills its data type in from the column's type, unless the person chose
  // a type themselves (then it is theirs to change).
  var iterator = document.getElementById("id_iterator"), type = document.getElementById("id_iterator_type");
  if (iterator && type) {
    var suggested = JSON.parse(iterator.dataset.suggestedTypes || "{}");
    var filled = type.value === "" || type.value === suggested[iterator.value];
    type.addEventListener("change", function () { filled = type.value === ""; });
    iterator.addEventListener("change", function () {
      if (filled && suggested[iterator.value]) type.value = suggested[iterator.value];
      sync();  // a filled-in type changes no event of its own, and decides whether "Stop at" applies
    });
  }
})();
