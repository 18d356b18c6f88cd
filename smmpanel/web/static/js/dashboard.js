// The admin dashboard's chart: orders (bars, left axis), revenue and profit
// (lines, right axis, base currency) per day, drawn with the vendored Chart.js
// from the data attributes of #dashboard-chart.  Our own file, because the
// pages' Content-Security-Policy runs no inline script.
(function () {
  "use strict";

  function draw() {
    var canvas = document.getElementById("dashboard-chart");
    if (!canvas || typeof window.Chart === "undefined") {
      return;
    }
    var data = JSON.parse(canvas.dataset.chart);
    var narrow = window.innerWidth < 600;
    new window.Chart(canvas, {
      data: {
        labels: data.days.map(function (day) { return day.slice(5); }),
        datasets: [
          {
            type: "bar",
            label: canvas.dataset.labelOrders,
            data: data.orders,
            yAxisID: "orders",
            backgroundColor: "rgba(1, 114, 173, 0.45)",
          },
          {
            type: "line",
            label: canvas.dataset.labelRevenue,
            data: data.revenue.map(Number),
            yAxisID: "money",
            borderColor: "#2e7d32",
            backgroundColor: "#2e7d32",
            tension: 0,
          },
          {
            type: "line",
            label: canvas.dataset.labelProfit,
            data: data.profit.map(Number),
            yAxisID: "money",
            borderColor: "#c62828",
            backgroundColor: "#c62828",
            tension: 0,
          },
        ],
      },
      options: {
        animation: false,
        aspectRatio: narrow ? 1.1 : 2.8,
        interaction: { mode: "index", intersect: false },
        scales: {
          orders: { position: "left", beginAtZero: true, ticks: { precision: 0 } },
          money: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false } },
        },
      },
    });
    canvas.dataset.drawn = "yes";
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
