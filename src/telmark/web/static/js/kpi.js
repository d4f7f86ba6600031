// KPI cube dashboard (Apache ECharts, vendored). The server renders the data as a JSON block
// (#kpi-data) inside the swappable body, so filter changes and drill-downs through HTMX bring
// their own data and the charts are drawn again.
(function () {
  "use strict";

  const TC = window.TelmarkCharts;
  const PALETTE = TC.PALETTE.slice(0, 6);
  const MUTED = TC.MUTED;
  const GRID = { left: 8, right: 24, top: 40, bottom: 8, containLabel: true };
  const charts = TC.group();

  // Values arrive in display units: yuan for money, percent (1.25 = 1.25%) for rates.
  const FORMATS = {
    number: TC.FORMATS.count,
    yuan: TC.FORMATS.yuan,
    yuan_compact: TC.FORMATS.compactYuan,
    percent: { style: "percent", minimumFractionDigits: 2, maximumFractionDigits: 2 },
    decimal: { maximumFractionDigits: 1 },
  };

  function formatter(locale, format) {
    return TC.formatter(locale, FORMATS[format] || {}, format === "percent" ? 100 : 0);
  }

  function kpiOf(data, key) {
    return data.kpis.find(function (k) { return k.key === key; }) || data.kpis[0];
  }

  function trend(data) {
    const chart = charts.make("kpi-trend", data);
    const select = document.getElementById("kpi-trend-key");
    if (!chart) {
      return;
    }
    function draw() {
      const kpi = kpiOf(data, select ? select.value : "subscribers");
      const fmt = formatter(data.locale, kpi.format);
      chart.setOption(Object.assign(TC.base(PALETTE), {
        tooltip: { trigger: "axis", valueFormatter: fmt },
        legend: { top: 0, textStyle: { color: MUTED } },
        grid: GRID,
        xAxis: { type: "category", data: data.monthLabels, boundaryGap: false,
          axisLabel: { color: MUTED } },
        yAxis: { type: "value", scale: true, axisLabel: { formatter: fmt, color: MUTED } },
        series: [{
          name: data.unitName + " · " + kpi.label, type: "line", data: data.series[kpi.key],
          symbolSize: 7, lineStyle: { width: 3 }, areaStyle: { opacity: 0.08 },
        }],
      }), { notMerge: true });
    }
    if (select) {
      select.addEventListener("change", draw);
    }
    draw();
  }

  function baseAndChurn(data) {
    const chart = charts.make("kpi-base", data);
    if (!chart) {
      return;
    }
    const subs = kpiOf(data, "subscribers");
    const churn = kpiOf(data, "churn_rate");
    const count = formatter(data.locale, "number");
    const pct = formatter(data.locale, "percent");
    chart.setOption(Object.assign(TC.base(PALETTE), {
      tooltip: { trigger: "axis" },
      legend: { top: 0, textStyle: { color: MUTED } },
      grid: GRID,
      xAxis: { type: "category", data: data.monthLabels, axisLabel: { color: MUTED } },
      yAxis: [
        { type: "value", scale: true, axisLabel: { formatter: count, color: MUTED } },
        { type: "value", axisLabel: { formatter: pct, color: MUTED }, splitLine: { show: false } },
      ],
      series: [
        { name: subs.label, type: "bar", data: data.series.subscribers, barMaxWidth: 36,
          itemStyle: { color: "#c9daf5", borderRadius: [4, 4, 0, 0] },
          tooltip: { valueFormatter: count } },
        { name: churn.label, type: "line", yAxisIndex: 1, data: data.series.churn_rate,
          symbolSize: 7, itemStyle: { color: "#e0544b" }, tooltip: { valueFormatter: pct } },
      ],
    }));
  }

  function drillTo(href) {
    if (!href) {
      return;
    }
    if (window.htmx) {
      window.htmx.ajax("GET", href, { target: "#kpi-body" }).then(function () {
        window.history.pushState({}, "", href);
      });
    } else {
      window.location.href = href;
    }
  }

  function rankingAndTreemap(data) {
    const select = document.getElementById("kpi-rank-key");
    const ranking = charts.make("kpi-ranking", data);
    const treemap = charts.make("kpi-treemap", data);
    if (!ranking && !treemap) {
      return;
    }
    function draw() {
      const kpi = kpiOf(data, select ? select.value : "churn_rate");
      const fmt = formatter(data.locale, kpi.format);
      const rows = data.children
        .filter(function (c) { return c.values[kpi.key] !== null; })
        .map(function (c) { return { name: c.name, value: c.values[kpi.key], href: c.href }; })
        // worst at the bottom, best at the top of the horizontal bars
        .sort(function (a, b) { return kpi.better ? a.value - b.value : b.value - a.value; });
      if (ranking) {
        ranking.setOption(Object.assign(TC.base(PALETTE), {
          tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: fmt },
          grid: Object.assign({}, GRID, { top: 8, right: 70 }),
          xAxis: { type: "value", scale: kpi.format !== "number",
            axisLabel: { formatter: fmt, color: MUTED } },
          yAxis: { type: "category", data: rows.map(function (r) { return r.name; }),
            axisTick: { show: false }, axisLabel: { color: MUTED } },
          series: [{
            name: kpi.label, type: "bar", barMaxWidth: 18,
            data: rows.map(function (r) { return { value: r.value, href: r.href }; }),
            itemStyle: { color: PALETTE[0], borderRadius: [0, 4, 4, 0] },
            label: { show: rows.length <= 20, position: "right", color: MUTED,
              formatter: function (p) { return fmt(p.value); } },
          }],
        }), { notMerge: true });
        ranking.off("click");
        ranking.on("click", function (p) { drillTo(p.data && p.data.href); });
      }
      if (treemap) {
        const values = rows.map(function (r) { return r.value; });
        const min = values.length ? Math.min.apply(null, values) : 0;
        const max = values.length ? Math.max.apply(null, values) : 1;
        const colours = kpi.better ? ["#e0544b", "#ffe8a3", "#2f9e44"] : ["#2f9e44", "#ffe8a3", "#e0544b"];
        const nodes = data.children
          .filter(function (c) { return (c.values.subscribers || 0) > 0; })
          .map(function (c) {
            return { name: c.name, href: c.href,
              value: [c.values.subscribers, c.values[kpi.key] === null ? min : c.values[kpi.key]] };
          });
        const count = formatter(data.locale, "number");
        treemap.setOption(Object.assign(TC.base(PALETTE), {
          tooltip: { formatter: function (p) {
            return p.name + "<br>" + data.labels.subscribers + ": <b>" + count(p.value[0]) +
              "</b><br>" + kpi.label + ": <b>" + fmt(p.value[1]) + "</b>";
          } },
          visualMap: { type: "continuous", dimension: 1, min: min, max: max === min ? min + 1 : max,
            orient: "horizontal", left: "center", bottom: 0, itemHeight: 160, itemWidth: 12,
            calculable: false, formatter: fmt, inRange: { color: colours }, textStyle: { color: MUTED } },
          series: [{
            type: "treemap", roam: false, nodeClick: false, breadcrumb: { show: false },
            top: 8, bottom: 44, left: 8, right: 8, visualDimension: 1,
            label: { show: true, formatter: "{b}" },
            itemStyle: { borderColor: "#fff", borderWidth: 2, gapWidth: 2 },
            data: nodes,
          }],
        }), { notMerge: true });
        treemap.off("click");
        treemap.on("click", function (p) { drillTo(p.data && p.data.href); });
      }
    }
    if (select) {
      select.addEventListener("change", draw);
    }
    draw();
  }

  function drawAll() {
    charts.clear();
    const data = TC.readData("kpi-data");
    if (!data || typeof echarts === "undefined") {
      return;
    }
    trend(data);
    baseAndChurn(data);
    rankingAndTreemap(data);
  }

  TC.onReady(drawAll, "kpi-body");
})();
