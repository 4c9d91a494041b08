// Supply timeline: one horizontal bar row per prescription, a bar per covered span.
// Data comes from a JSON block (json_script) so the page needs no inline script (CSP).
(function () {
  "use strict";
  const holder = document.getElementById("timeline-data");
  const canvas = document.getElementById("supply-timeline");
  if (!holder || !canvas || typeof Chart === "undefined") return;
  const data = JSON.parse(holder.textContent);
  const day = 24 * 60 * 60 * 1000;
  const toTime = (iso) => new Date(iso + "T00:00:00").getTime();
  const start = toTime(data.start);
  const end = toTime(data.end) + day;
  const labels = data.rows.map((row) => row.label);
  const bars = [];
  data.rows.forEach((row) => {
    row.spans.forEach((span) => {
      bars.push({ x: [toTime(span[0]), toTime(span[1]) + day], y: row.label });
    });
  });
  const formatDay = (value) => new Date(value).toLocaleDateString();
  canvas.parentElement.style.height = Math.max(120, 48 * labels.length + 60) + "px";
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: labels,
      datasets: [{ label: "Days with supply", data: bars, backgroundColor: "#0172ad", borderSkipped: false }],
    },
    options: {
      indexAxis: "y",
      maintainAspectRatio: false,
      animation: false,
      parsing: { xAxisKey: "x", yAxisKey: "y" },
      scales: {
        x: { type: "linear", min: start, max: end, ticks: { callback: formatDay, maxTicksLimit: 8 } },
        y: { type: "category", labels: labels },
      },
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            label: (ctx) => formatDay(ctx.raw.x[0]) + " – " + formatDay(ctx.raw.x[1] - day),
          },
        },
      },
    },
  });
  canvas.dataset.rendered = "true";
})();
