// Outcome charts (adherence by class, PQA rates): data from a json_script block, no inline
// script (CSP). One grouped bar chart per canvas that names its data block.
(function () {
  "use strict";
  if (typeof Chart === "undefined") return;
  const colors = ["#8891aa", "#0172ad", "#d97706", "#2f855a"];
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    const holder = document.getElementById(canvas.dataset.chart);
    if (!holder) return;
    const data = JSON.parse(holder.textContent);
    const series = data.series || [{ label: canvas.dataset.label || "Rate", data: data.rates }];
    new Chart(canvas, {
      type: data.type || "bar",
      data: {
        labels: data.labels,
        datasets: series.map(function (s, i) {
          const color = colors[i % colors.length];
          return { label: s.label, data: s.data, backgroundColor: color, borderColor: color, spanGaps: true };
        }),
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        scales: { y: { min: 0, max: 100, title: { display: true, text: "%" } } },
      },
    });
    canvas.dataset.rendered = "true";
  });
})();
