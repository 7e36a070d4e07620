// The scan viewer on the document page (plain JavaScript, no framework, nothing from a CDN).
// Zoom with the wheel or +/-, pan by dragging, fit width (w) or page (f), rotate (o),
// pages with the thumbnails or [ and ], OCR text tab (t). The shortcuts are listed in the
// help overlay (?), which app.js opens.
(function () {
  "use strict";
  var viewer = document.getElementById("viewer");
  var stage = document.getElementById("stage");
  if (!viewer || !stage) return;
  var level = document.getElementById("zoom-level");
  var pageLabel = document.getElementById("page-current");
  var MIN = 0.1, MAX = 8, STEP = 1.2, MARGIN = 8;
  var state = { page: 1, scale: 1, rotate: 0, fit: "width" };

  function figures() { return Array.prototype.slice.call(stage.querySelectorAll("figure.page")); }
  function image() {
    var figure = stage.querySelector("figure.page.current");
    return figure && figure.querySelector("img.scan");
  }
  function clamp(s) { return Math.max(MIN, Math.min(MAX, s)); }

  function box(img) {
    var w = img.naturalWidth, h = img.naturalHeight;
    if (!w || !h) return null;
    var turned = state.rotate % 180 !== 0;
    return { w: w, h: h, bw: turned ? h : w, bh: turned ? w : h };
  }

  function fitScale(mode, b) {
    var width = (stage.clientWidth - 2 * MARGIN) / b.bw;
    if (mode === "width") return width;
    return Math.min(width, (stage.clientHeight - 2 * MARGIN) / b.bh);
  }

  function apply() {
    var img = image();
    var b = img && box(img);
    if (!b) return;
    if (state.fit) state.scale = fitScale(state.fit, b);
    state.scale = clamp(state.scale);
    var canvas = img.parentNode;
    canvas.style.width = Math.floor(b.bw * state.scale + 2 * MARGIN) + "px";
    canvas.style.height = Math.floor(b.bh * state.scale + 2 * MARGIN) + "px";
    img.style.width = b.w + "px";
    img.style.height = b.h + "px";
    img.style.transform = "translate(-50%, -50%) rotate(" + state.rotate + "deg) scale(" + state.scale + ")";
    if (level) level.textContent = Math.round(state.scale * 100) + "%";
    viewer.dataset.scale = state.scale.toFixed(3);
    viewer.dataset.rotate = String(state.rotate);
  }

  // Zoom keeping the point (x, y) of the stage's viewport where it is.
  function zoomTo(scale, x, y) {
    var old = state.scale;
    if (x === undefined) { x = stage.clientWidth / 2; y = stage.clientHeight / 2; }
    var px = stage.scrollLeft + x, py = stage.scrollTop + y;
    state.fit = null;
    state.scale = clamp(scale);
    apply();
    var k = state.scale / old;
    stage.scrollLeft = px * k - x;
    stage.scrollTop = py * k - y;
  }

  function fit(mode) { state.fit = mode; apply(); stage.scrollTop = 0; stage.scrollLeft = 0; }
  function rotate() { state.rotate = (state.rotate + 90) % 360; apply(); }

  function showPage(n) {
    var all = figures();
    if (!all.length) return;
    n = Math.max(1, Math.min(all.length, n));
    state.page = n;
    all.forEach(function (f) {
      var on = Number(f.dataset.page) === n;
      f.classList.toggle("current", on);
      f.hidden = !on;
    });
    Array.prototype.forEach.call(viewer.querySelectorAll(".thumb"), function (t) {
      t.classList.toggle("current", Number(t.dataset.page) === n);
    });
    if (pageLabel) pageLabel.textContent = String(n);
    if (!state.fit) state.fit = "width";
    apply();
    stage.scrollTop = 0;
  }

  function showTab(which) {
    var text = which === "text";
    document.getElementById("tab-scan").setAttribute("aria-selected", String(!text));
    document.getElementById("tab-text").setAttribute("aria-selected", String(text));
    document.getElementById("scan-panel").hidden = text;
    document.getElementById("text-panel").hidden = !text;
    if (!text) apply();
  }

  var actions = {
    "zoom-in": function () { zoomTo(state.scale * STEP); },
    "zoom-out": function () { zoomTo(state.scale / STEP); },
    "fit-width": function () { fit("width"); },
    "fit-page": function () { fit("page"); },
    "rotate": rotate,
  };
  viewer.addEventListener("click", function (ev) {
    var button = ev.target.closest("button");
    if (!button) return;
    if (button.dataset.act && actions[button.dataset.act]) actions[button.dataset.act]();
    else if (button.dataset.page) showPage(Number(button.dataset.page));
    else if (button.id === "tab-scan") showTab("scan");
    else if (button.id === "tab-text") showTab("text");
  });

  stage.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var rect = stage.getBoundingClientRect();
    var factor = ev.deltaY < 0 ? STEP : 1 / STEP;
    zoomTo(state.scale * factor, ev.clientX - rect.left, ev.clientY - rect.top);
  }, { passive: false });

  // Drag to pan with a mouse (touch screens scroll natively).
  var drag = null;
  stage.addEventListener("pointerdown", function (ev) {
    if (ev.pointerType !== "mouse" || ev.button !== 0) return;
    drag = { x: ev.clientX, y: ev.clientY, left: stage.scrollLeft, top: stage.scrollTop };
    stage.classList.add("dragging");
    stage.setPointerCapture(ev.pointerId);
  });
  stage.addEventListener("pointermove", function (ev) {
    if (!drag) return;
    stage.scrollLeft = drag.left - (ev.clientX - drag.x);
    stage.scrollTop = drag.top - (ev.clientY - drag.y);
  });
  function endDrag() { drag = null; stage.classList.remove("dragging"); }
  stage.addEventListener("pointerup", endDrag);
  stage.addEventListener("pointercancel", endDrag);

  figures().forEach(function (f) {
    var img = f.querySelector("img.scan");
    if (img.complete) apply();
    img.addEventListener("load", function () { if (f.classList.contains("current")) apply(); });
  });
  if (window.ResizeObserver) {
    new ResizeObserver(function () { if (state.fit) apply(); }).observe(stage);
  } else {
    window.addEventListener("resize", function () { if (state.fit) apply(); });
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }
  var keys = {
    "+": actions["zoom-in"], "=": actions["zoom-in"], "-": actions["zoom-out"],
    "w": actions["fit-width"], "f": actions["fit-page"], "o": rotate,
    "[": function () { showPage(state.page - 1); }, "]": function () { showPage(state.page + 1); },
    "t": function () { showTab(document.getElementById("text-panel").hidden ? "text" : "scan"); },
  };
  document.addEventListener("keydown", function (ev) {
    if (typing(ev.target) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var help = document.getElementById("help-overlay");
    if (help && !help.hidden) return;
    var run = keys[ev.key];
    if (run) { ev.preventDefault(); run(); }
  });
})();
