// Upload and relink helpers (plain JavaScript): the Chinese file picker's chosen names, the
// customer autocomplete (name, USCC or code -> a <datalist> of codes from /lookup/customers),
// and the periodic refresh of 我的上传 while files are still waiting.
(function () {
  "use strict";

  function filePicker() {
    var input = document.getElementById("upload-files");
    var names = document.getElementById("upload-file-names");
    if (!input || !names) return;
    input.addEventListener("change", function () {
      var list = Array.prototype.map.call(input.files, function (f) { return f.name; });
      names.textContent = list.length ? "已选择 " + list.length + " 个文件：" + list.join("、") : "未选择文件";
    });
  }

  function customerLookup(input) {
    var list = document.getElementById(input.dataset.customerLookup);
    var picked = document.querySelector('[data-picked-for="' + input.id + '"]');
    var timer = null;
    var known = {};
    function show() {
      var c = known[input.value.trim().toUpperCase()];
      if (picked) picked.textContent = c ? "已选：" + c.name + "（" + c.code + "）" : "";
    }
    function fill(customers) {
      list.innerHTML = "";
      customers.forEach(function (c) {
        known[c.code] = c;
        var option = document.createElement("option");
        option.value = c.code;
        option.label = c.name + (c.uscc ? " · " + c.uscc : "");
        option.textContent = option.label;
        list.appendChild(option);
      });
      show();
    }
    input.addEventListener("input", function () {
      show();
      clearTimeout(timer);
      var q = input.value.trim();
      if (!q) { list.innerHTML = ""; return; }
      timer = setTimeout(function () {
        fetch("/lookup/customers?q=" + encodeURIComponent(q), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : { customers: [] }; })
          .then(function (data) { fill(data.customers || []); })
          .catch(function () {});
      }, 200);
    });
  }

  function autoRefresh() {
    var holder = document.querySelector("[data-refresh-seconds]");
    if (!holder) return;
    var seconds = parseInt(holder.dataset.refreshSeconds, 10) || 10;
    setTimeout(function () { window.location.reload(); }, seconds * 1000);
  }

  filePicker();
  Array.prototype.forEach.call(document.querySelectorAll("[data-customer-lookup]"), customerLookup);
  autoRefresh();
})();
