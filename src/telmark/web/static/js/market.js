// Market share trend (Apache ECharts, vendored): one line per operator, our own share dashed.
// The server renders the data as a JSON block (#market-data); shares arrive in percent.
(function () {
  "use strict";

  const PALETTE = ["#1554b3", "#e0544b", "#0e9f9a", "#f59f00", "#7b61d1", "#2f9e44"];
  const MUTED = "#6b7487";
  let chart = null;

  function draw() {
    const node = document.getElementById("market-data");
    const element = document.getElementById("chart-shares");
    if (!node || !element) {
      return;
    }
    const data = JSON.parse(node.textContent);
    if (chart) {
      chart.dispose();
    }
    chart = echarts.init(element, null, { locale: data.echartsLocale });
    const percent = new Intl.NumberFormat(document.documentElement.lang || undefined, {
      style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 2,
    });
    const format = function (value) {
      return value === null || value === undefined ? "—" : percent.format(value / 100);
    };
    chart.setOption({
      color: PALETTE,
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
      animationDuration: 400,
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
    });
  }

  window.addEventListener("resize", function () {
    if (chart) {
      chart.resize();
    }
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
