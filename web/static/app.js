// Keyboard shortcuts for the review UI (plain JavaScript, no framework).
// Queue: j/k move the selection, Enter opens. Document: j/k next/previous in the queue,
// a approve, r reject (focus the reason box; Ctrl+Enter sends), e edit (focus the first field).
// Every page: ? shows the shortcut help (when the page has one), the menu button on phones.
(function () {
  "use strict";

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function queueKeys() {
    var rows = Array.prototype.slice.call(document.querySelectorAll("tr.queue-row"));
    if (!rows.length) return;
    var index = 0;
    function select(i) {
      rows[index].classList.remove("selected");
      index = Math.max(0, Math.min(rows.length - 1, i));
      rows[index].classList.add("selected");
      rows[index].scrollIntoView({ block: "nearest" });
    }
    select(0);
    rows.forEach(function (row, i) {
      row.addEventListener("click", function (ev) {
        if (ev.target.tagName !== "A") { window.location.href = row.dataset.href; }
        select(i);
      });
    });
    document.addEventListener("keydown", function (ev) {
      if (typing(ev.target) || ev.ctrlKey || ev.metaKey || ev.altKey || helpOpen()) return;
      if (ev.key === "j") { select(index + 1); ev.preventDefault(); }
      else if (ev.key === "k") { select(index - 1); ev.preventDefault(); }
      else if (ev.key === "Enter" || ev.key === "o") { window.location.href = rows[index].dataset.href; }
    });
  }

  function documentKeys() {
    var form = document.getElementById("decision-form");
    var approve = document.getElementById("approve-button");
    var reason = document.getElementById("reject-reason");
    var next = document.getElementById("next-link");
    var prev = document.getElementById("prev-link");
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && ev.target === reason) {
        ev.preventDefault(); reason.form.requestSubmit(); return;
      }
      if (ev.key === "Escape" && typing(ev.target)) { ev.target.blur(); return; }
      if (typing(ev.target) || ev.ctrlKey || ev.metaKey || ev.altKey || helpOpen()) return;
      if (ev.key === "a" && approve) { ev.preventDefault(); form.requestSubmit(approve); }
      else if (ev.key === "r" && reason) { ev.preventDefault(); reason.focus(); }
      else if (ev.key === "e" && form) {
        var first = form.querySelector(".field.doubtful .field-input") || form.querySelector(".field-input");
        if (first) { ev.preventDefault(); first.focus(); first.select(); }
      }
      else if (ev.key === "j" && next) { window.location.href = next.href; }
      else if (ev.key === "k" && prev) { window.location.href = prev.href; }
    });
  }

  // Customer list: the filter panel starts open on wide screens and when filters are set.
  function customerFilters() {
    var more = document.querySelector("details.more-filters");
    if (more && window.matchMedia("(min-width: 721px)").matches) more.open = true;
  }

  // Customer form: a number that belongs to one customer type is shown for that type only
  // (an empty one is hidden; a value is never hidden, so the server's error stays visible).
  function customerForm() {
    var type = document.getElementById("f-customer_type");
    if (!type) return;
    function update() {
      document.querySelectorAll(".form-field[data-only]").forEach(function (field) {
        var input = field.querySelector("input");
        var other = type.value && field.dataset.only !== type.value;
        field.hidden = Boolean(other && input && !input.value);
      });
    }
    type.addEventListener("change", update);
    update();
  }

  function helpOpen() {
    var help = document.getElementById("help-overlay");
    return Boolean(help && !help.hidden);
  }

  function helpOverlay() {
    var help = document.getElementById("help-overlay");
    if (!help) return;
    var opener = null;
    function show(on) {
      if (on) { opener = document.activeElement; help.hidden = false; document.getElementById("help-close").focus(); }
      else { help.hidden = true; if (opener && opener.focus) opener.focus(); }
    }
    document.getElementById("help-close").addEventListener("click", function () { show(false); });
    help.addEventListener("click", function (ev) { if (ev.target === help) show(false); });
    Array.prototype.forEach.call(document.querySelectorAll('[data-act="help"]'), function (b) {
      b.addEventListener("click", function () { show(true); });
    });
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" && !help.hidden) { ev.preventDefault(); show(false); return; }
      if (ev.key === "?" && !typing(ev.target) && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
        ev.preventDefault(); show(help.hidden);
      }
    });
  }

  function navToggle() {
    var button = document.querySelector(".nav-toggle");
    if (!button) return;
    button.addEventListener("click", function () {
      var open = button.closest("header").classList.toggle("nav-open");
      button.setAttribute("aria-expanded", String(open));
    });
  }

  // Forms that delete or merge something ask first (``data-confirm`` holds the question).
  function confirmForms() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        if (!window.confirm(form.dataset.confirm)) ev.preventDefault();
      });
    });
  }

  navToggle();
  helpOverlay();
  confirmForms();
  var page = document.body.dataset.page;
  if (page === "queue") queueKeys();
  if (page === "document") documentKeys();
  if (page === "customers") customerFilters();
  if (page === "customer-form") customerForm();
})();
