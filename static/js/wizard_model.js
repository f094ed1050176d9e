// Data-model step: CodeMirror over the SQL textarea, and Next only while the SQL is the one that ran.
(function () {
  "use strict";
  var textarea = document.getElementById("id_sql");
  if (!textarea) return;
  var modes = { postgres: "text/x-pgsql", snowflake: "text/x-sql", bigquery: "text/x-sql", redshift: "text/x-pgsql",
                duckdb: "text/x-pgsql", databricks: "text/x-sparksql" };
  var editor = null;
  if (window.CodeMirror) {
    editor = CodeMirror.fromTextArea(textarea, {
      mode: modes[textarea.dataset.dialect] || "text/x-sql", lineNumbers: true, indentUnit: 2,
      // The "SQL query" label points at the textarea CodeMirror hides; its own input needs the name too.
      screenReaderLabel: (document.querySelector('label[for="id_sql"]') || {}).textContent || "SQL query",
      readOnly: textarea.closest("fieldset") && textarea.closest("fieldset").disabled ? "nocursor" : false,
    });
    editor.on("change", function () {
      editor.save();
      textarea.dispatchEvent(new Event("sql-changed"));
      syncNext();
    });
  }
  function syncNext() {
    var next = document.getElementById("next");
    var results = document.getElementById("results");
    if (!next || !results) return;
    var ran = results.dataset.probed === "1" && results.dataset.probedSql === textarea.value;
    next.disabled = !ran;
    next.title = ran ? "" : "Run the query in its current form first";
  }
  textarea.addEventListener("input", syncNext);
  // Keep the textarea current before any HTMX request reads the form.
  document.body.addEventListener("htmx:configRequest", function () { if (editor) editor.save(); });
  document.body.addEventListener("htmx:afterSwap", syncNext);
  syncNext();
})();
