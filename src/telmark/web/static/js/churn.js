// Churn model page charts (Apache ECharts, vendored): lift and gain, feature importance,
// calibration and risk by city. The server renders the data as a JSON block (#churn-data).
(function () {
  "use strict";

  const COLORS = { brand: "#1554b3", teal: "#0e9f9a", amber: "#f59f00", red: "#e0544b" };
  const BANDS = { high: "#e0544b", medium: "#f59f00", low: "#0e9f9a" };
  const TC = window.TelmarkCharts;
  const MUTED = TC.MUTED;
  const GRID = { left: 8, right: 24, top: 40, bottom: 8, containLabel: true };
  const charts = TC.group();

  function number(locale, digits) {
    return TC.formatter(locale, { maximumFractionDigits: digits });
  }

  function liftGain(data) {
    const chart = charts.make("chart-lift", data);
    if (!chart || !data.lift) {
      return;
    }
    const deciles = data.lift.map(function (d) { return String(d.decile); });
    chart.setOption(Object.assign(TC.base(), {
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: GRID,
      xAxis: { type: "category", name: data.labels.decile, data: deciles, axisLabel: { color: MUTED } },
      yAxis: [
        { type: "value", name: data.labels.lift, axisLabel: { color: MUTED } },
        { type: "value", name: "%", max: 100, axisLabel: { color: MUTED } },
      ],
      series: [
        {
          name: data.labels.lift, type: "bar", barMaxWidth: 36, color: COLORS.brand,
          data: data.lift.map(function (d) { return d.lift; }),
        },
        {
          name: data.labels.gain, type: "line", yAxisIndex: 1, color: COLORS.amber, smooth: true,
          data: data.lift.map(function (d) { return d.gain; }),
        },
        {
          name: data.labels.random, type: "line", yAxisIndex: 1, color: MUTED, symbol: "none",
          lineStyle: { type: "dashed" },
          data: data.lift.map(function (d) { return d.decile * 10; }),
        },
      ],
    }));
  }

  function importance(data) {
    const chart = charts.make("chart-importance", data);
    if (!chart || !data.importance) {
      return;
    }
    // Ascending so the most important feature is drawn at the top.
    const rows = data.importance.slice().reverse();
    chart.setOption(Object.assign(TC.base(), {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: number(data.locale, 4) },
      grid: Object.assign({}, GRID, { top: 8 }),
      xAxis: { type: "value", name: data.labels.importance, nameLocation: "middle", nameGap: 24,
        axisLabel: { color: MUTED } },
      yAxis: { type: "category", data: rows.map(function (r) { return r.feature; }),
        axisLabel: { color: MUTED } },
      series: [{ type: "bar", color: COLORS.teal, barMaxWidth: 18,
        data: rows.map(function (r) { return r.value; }) }],
    }));
  }

  function calibration(data) {
    const chart = charts.make("chart-calibration", data);
    if (!chart || !data.calibration) {
      return;
    }
    chart.setOption(Object.assign(TC.base(), {
      tooltip: { trigger: "axis", valueFormatter: function (v) { return number(data.locale, 2)(v) + "%"; } },
      legend: { top: 0 },
      grid: GRID,
      xAxis: { type: "category", name: data.labels.decile,
        data: data.calibration.map(function (c) { return String(c.decile); }), axisLabel: { color: MUTED } },
      yAxis: { type: "value", axisLabel: { color: MUTED, formatter: "{value}%" } },
      series: [
        { name: data.labels.predicted, type: "line", color: COLORS.brand,
          data: data.calibration.map(function (c) { return c.predicted; }) },
        { name: data.labels.observed, type: "bar", color: COLORS.amber, barMaxWidth: 28,
          data: data.calibration.map(function (c) { return c.observed; }) },
      ],
    }));
  }

  function riskByCity(data) {
    const chart = charts.make("chart-risk", data);
    if (!chart) {
      return;
    }
    const cities = data.cities.slice().reverse();
    chart.setOption(Object.assign(TC.base(), {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: number(data.locale, 0) },
      legend: { top: 0 },
      grid: GRID,
      xAxis: { type: "value", axisLabel: { color: MUTED } },
      yAxis: { type: "category", data: cities.map(function (c) { return c.name; }), axisLabel: { color: MUTED } },
      series: ["high", "medium", "low"].map(function (band) {
        return {
          name: data.labels[band], type: "bar", stack: "lines", color: BANDS[band], barMaxWidth: 22,
          data: cities.map(function (c) { return c[band]; }),
        };
      }),
    }));
  }

  function drawAll() {
    charts.clear();
    const data = TC.readData("churn-data");
    if (!data || typeof echarts === "undefined") {
      return;
    }
    liftGain(data);
    importance(data);
    calibration(data);
    riskByCity(data);
  }

  TC.onReady(drawAll);
})();
