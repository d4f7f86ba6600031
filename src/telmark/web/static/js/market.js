// Market share trend (Apache ECharts, vendored): one line per operator, our own share dashed.
// The server renders the data as a JSON block (#market-data); shares arrive in percent.
(function () {
  "use strict";

  const TC = window.TelmarkCharts;
  const PALETTE = ["#1554b3", "#e0544b", "#0e9f9a", "#f59f00", "#7b61d1", "#2f9e44"];
  const MUTED = TC.MUTED;
  const charts = TC.group();

  function draw() {
    const data = TC.readData("market-data");
    const chart = data ? charts.make("chart-shares", data) : null;
    if (!chart) {
      return;
    }
    const format = TC.formatter(document.documentElement.lang || undefined, {
      style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 2,
    }, 100);
    chart.setOption(Object.assign(TC.base(PALETTE), {
      tooltip: { trigger: "axis", valueFormatter: format },
      legend: { top: 0, type: "scroll" },
      grid: { left: 8, right: 20, top: 40, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: data.monthLabels, axisLabel: { color: MUTED } },
      yAxis: {
        type: "value", min: 0,
        axisLabel: { color: MUTED, formatter: function (v) { return v + "%"; } },
      },
      series: data.series.map(function (s) {
        return {
          name: s.name, type: "line", data: s.data, connectNulls: false, symbolSize: 6,
          lineStyle: s.own ? { type: "dashed", width: 3 } : { width: 2 },
        };
      }),
    }));
  }

  TC.onReady(draw);
})();
