// The admin console's progress bars (jobs/admin.py, progress_widget): while a bar's job
// runs, ask the admin's progress view about every such bar on the page, once per poll,
// and move the bars, their text, and the rows/s and status shown beside them.
(function () {
  "use strict";
  const script = document.currentScript;
  const url = script.dataset.url;
  const pollMs = Number(script.dataset.pollMs) || 1000;

  function running() {
    return Array.from(document.querySelectorAll('.pcf-progress[data-finished="0"]'));
  }

  function show(widget, job) {
    const bar = widget.querySelector("progress");
    bar.value = job.percentage;
    widget.querySelector(".pcf-progress-text").textContent =
      job.percentage + "% (" + job.processed + " / " + job.total + ")";
    widget.dataset.finished = job.finished ? "1" : "0";
    widget.dataset.status = job.status;
    const id = widget.dataset.job;
    document.querySelectorAll('[data-job-rate="' + CSS.escape(id) + '"]').forEach(function (el) {
      el.textContent = job.rows_per_second === null ? "-" : String(job.rows_per_second);
    });
  }

  async function poll() {
    const widgets = running();
    if (widgets.length === 0) {
      return; // every job on the page is finished: nothing will move any more
    }
    const query = new URLSearchParams();
    widgets.forEach(function (w) { query.append("id", w.dataset.job); });
    try {
      const answer = await fetch(url + "?" + query.toString(), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (answer.ok) {
        const jobs = (await answer.json()).jobs;
        widgets.forEach(function (w) {
          if (jobs[w.dataset.job]) { show(w, jobs[w.dataset.job]); }
        });
      }
    } catch (err) {
      // A failed poll (server restarting, network blip) is retried on the next tick.
    }
    window.setTimeout(poll, pollMs);
  }

  document.addEventListener("DOMContentLoaded", function () {
    window.setTimeout(poll, pollMs);
  });
})();
