// Uplift model page chart (Apache ECharts, vendored): the holdout Qini curve against random
// targeting. The server renders the data as a JSON block (#uplift-data).
(function () {
  "use strict";

  const COLORS = { brand: "#1554b3" };
  const TC = window.TelmarkCharts;
  const MUTED = TC.MUTED;
  const GRID = { left: 8, right: 24, top: 40, bottom: 24, containLabel: true };
  const charts = TC.group();

  function qini(data) {
    const chart = charts.make("chart-qini", data);
    if (!chart || !data.qini) {
      return;
    }
    const number = TC.formatter(data.locale, { maximumFractionDigits: 1 });
    chart.setOption(Object.assign(TC.base(), {
      tooltip: { trigger: "axis", valueFormatter: number },
      legend: { top: 0 },
      grid: GRID,
      xAxis: {
        type: "value", name: data.labels.share, nameLocation: "middle", nameGap: 24, max: 100,
        axisLabel: { color: MUTED, formatter: "{value}%" },
      },
      yAxis: { type: "value", name: data.labels.incremental, axisLabel: { color: MUTED } },
      series: [
        {
          name: data.labels.model, type: "line", color: COLORS.brand, symbol: "none", smooth: false,
          data: data.qini.map(function (p) { return [p.share, p.model]; }),
        },
        {
          name: data.labels.random, type: "line", color: MUTED, symbol: "none",
          lineStyle: { type: "dashed" },
          data: data.qini.map(function (p) { return [p.share, p.random]; }),
        },
      ],
    }));
  }

  function drawAll() {
    charts.clear();
    const data = TC.readData("uplift-data");
    if (!data || typeof echarts === "undefined") {
      return;
    }
    qini(data);
  }

  TC.onReady(drawAll);
})();
