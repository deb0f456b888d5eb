"use strict";
// acctgraph report: label operations offline and download the rows for decisions.csv.
// The only script of the report, pinned by its Content-Security-Policy hash. It reads
// operation ids from data-cluster-id attributes (checked against the id pattern) and what
// the investigator types or picks; it writes only textContent and a downloaded file, and
// never parses page text as HTML or code.
(function () {
  var ID = /^op-[0-9]{6,}$/;
  var DECISIONS = ["confirmed", "benign", "allowlist", "under_review"];
  var panel = document.getElementById("label-panel");
  if (!panel) { return; }
  var status = document.getElementById("label-status");
  var who = document.getElementById("label-by");
  var button = document.getElementById("label-download");

  function cell(text) {
    var value = String(text);
    if (/^[=+\-@\t\r]/.test(value)) { value = "'" + value; }  // a spreadsheet would run it
    if (/[",\r\n]/.test(value)) { value = '"' + value.replace(/"/g, '""') + '"'; }
    return value;
  }

  function rows() {
    var out = [];
    var forms = document.querySelectorAll(".decide[data-cluster-id]");
    for (var i = 0; i < forms.length; i++) {
      var id = forms[i].getAttribute("data-cluster-id");
      var choice = forms[i].querySelector("select");
      var note = forms[i].querySelector("input");
      if (!ID.test(id) || !choice || DECISIONS.indexOf(choice.value) < 0) { continue; }
      out.push([id, choice.value, note ? note.value.trim() : ""]);
    }
    return out;
  }

  function show(text) { status.textContent = text; }

  function refresh() {
    var n = rows().length;
    show(n ? n + (n === 1 ? " operation labelled" : " operations labelled") : "no operation labelled yet");
  }

  document.addEventListener("change", refresh);
  button.addEventListener("click", function () {
    var by = who.value.trim();
    var labelled = rows();
    if (!labelled.length) { show("label at least one operation first"); return; }
    if (!by) { show("enter your name under \u201cdecided by\u201d first"); who.focus(); return; }
    var at = new Date().toISOString().slice(0, 19) + "Z";
    var lines = ["target,decision,decided_by,decided_at,note"];
    for (var i = 0; i < labelled.length; i++) {
      lines.push([labelled[i][0], labelled[i][1], by, at, labelled[i][2]].map(cell).join(","));
    }
    var blob = new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv" });
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "decisions-" + at.slice(0, 10) + ".csv";
    document.body.appendChild(link);
    link.click();
    link.remove();
    show(labelled.length + " rows downloaded as " + link.download + ": append them to your decisions file");
  });
  var hidden = document.querySelectorAll(".decide[hidden]");
  for (var i = 0; i < hidden.length; i++) { hidden[i].hidden = false; }
  panel.hidden = false;
  refresh();
})();
