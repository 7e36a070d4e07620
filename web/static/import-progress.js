// The customer import's progress bar (plain JavaScript): polls the job's JSON (rows done of the
// file's total) and opens the result page once the job has finished.
(function () {
  "use strict";

  var box = document.querySelector("[data-progress-url]");
  if (!box) return;
  var bar = box.querySelector("progress");
  var done = box.querySelector("[data-done]");
  var total = box.querySelector("[data-total]");
  var phase = box.querySelector("[data-phase]");
  var number = function (n) { return n.toLocaleString("zh-CN"); };

  function show(job) {
    if (job.total) {
      bar.max = job.total;
      bar.value = job.done;
      total.textContent = number(job.total);
    }
    done.textContent = number(job.done);
    phase.textContent = job.phase === "reading" ? "正在读取文件…" : (job.dry_run ? "已检查" : "已处理");
  }

  function poll() {
    fetch(box.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (job) {
        show(job);
        if (job.finished) {
          window.location.replace(box.dataset.resultUrl);
        } else {
          setTimeout(poll, 500);
        }
      })
      .catch(function () { setTimeout(poll, 2000); });
  }

  setTimeout(poll, 200);
})();
