// Province overview charts (Apache ECharts, vendored). The server renders the data as a JSON
// block (#overview-data) inside the swappable body, so a period change through HTMX brings its
// own data and the charts are simply drawn again.
(function () {
  "use strict";

  const TC = window.TelmarkCharts;
  const PALETTE = TC.PALETTE;
  const MUTED = TC.MUTED;
  const GRID = { left: 8, right: 20, top: 40, bottom: 8, containLabel: true };
  const charts = TC.group();

  function formatters(locale) {
    return {
      count: TC.formatter(locale, TC.FORMATS.count),
      compact: TC.formatter(locale, TC.FORMATS.compact),
      yuan: TC.formatter(locale, TC.FORMATS.yuan),
      compactYuan: TC.formatter(locale, TC.FORMATS.compactYuan),
      // churn values arrive in percent (1.25 means 1.25%)
      percent: TC.formatter(
        locale, { style: "percent", minimumFractionDigits: 2, maximumFractionDigits: 2 }, 100),
    };
  }

  function subscribersByCity(data, fmt) {
    const chart = charts.make("chart-subscribers", data);
    if (!chart) {
      return;
    }
    const last = data.months.length - 1;
    // Ascending so the largest city is drawn at the top of a horizontal bar chart.
    const rows = data.cities
      .map(function (city) { return { name: city.name, value: city.subscribers[last] }; })
      .sort(function (a, b) { return a.value - b.value; });
    chart.setOption(Object.assign(TC.base(PALETTE), {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: fmt.count },
      grid: Object.assign({}, GRID, { top: 8, right: 56 }),
      xAxis: { type: "value", axisLabel: { formatter: fmt.compact, color: MUTED } },
      yAxis: {
        type: "category", data: rows.map(function (r) { return r.name; }),
        axisTick: { show: false }, axisLabel: { color: MUTED },
      },
      series: [{
        name: data.labels.subscribers,
        type: "bar",
        data: rows.map(function (r) { return r.value; }),
        barMaxWidth: 18,
        itemStyle: { color: PALETTE[0], borderRadius: [0, 4, 4, 0] },
        label: {
          show: true, position: "right", color: MUTED,
          formatter: function (p) { return fmt.compact(p.value); },
        },
      }],
    }));
  }

  function arpuTrend(data, fmt) {
    const chart = charts.make("chart-arpu", data);
    if (!chart) {
      return;
    }
    const select = document.getElementById("arpu-city");
    function draw() {
      const chosen = select ? select.value : "";
      const cities = data.cities.filter(function (c) { return !chosen || c.id === chosen; });
      const series = [{
        name: data.labels.province,
        type: "line",
        data: data.province.arpuYuan,
        symbolSize: 7,
        lineStyle: { width: 3.5 },
        itemStyle: { color: PALETTE[0] },
        z: 3,
      }].concat(cities.map(function (city) {
        return {
          name: city.name,
          type: "line",
          data: city.arpuYuan,
          symbol: "circle",
          symbolSize: chosen ? 6 : 3,
          lineStyle: { width: chosen ? 2.5 : 1.2, opacity: chosen ? 1 : 0.75 },
          itemStyle: { color: PALETTE[(data.cities.indexOf(city) + 1) % PALETTE.length] },
          emphasis: { focus: "series" },
        };
      }));
      chart.setOption(Object.assign(TC.base(PALETTE), {
        tooltip: { trigger: "axis", valueFormatter: fmt.yuan, confine: true },
        legend: { type: "scroll", top: 0, textStyle: { color: MUTED } },
        grid: GRID,
        xAxis: { type: "category", data: data.monthLabels, boundaryGap: false,
          axisLabel: { color: MUTED } },
        yAxis: { type: "value", scale: true, axisLabel: { formatter: fmt.count, color: MUTED } },
        series: series,
      }), { notMerge: true });
    }
    if (select) {
      select.addEventListener("change", draw);
    }
    draw();
  }

  function churnHeatmap(data, fmt) {
    const chart = charts.make("chart-churn", data);
    if (!chart) {
      return;
    }
    const cells = [];
    let max = 0;
    data.cities.forEach(function (city, y) {
      city.churnPct.forEach(function (value, x) {
        cells.push([x, y, value === null ? "-" : value]);
        if (value !== null && value > max) {
          max = value;
        }
      });
    });
    chart.setOption(Object.assign(TC.base(PALETTE), {
      tooltip: {
        position: "top",
        formatter: function (p) {
          return data.cities[p.value[1]].name + " · " + data.monthLabels[p.value[0]] +
            "<br>" + data.labels.churn + ": <b>" + fmt.percent(p.value[2]) + "</b>";
        },
      },
      grid: Object.assign({}, GRID, { top: 8, bottom: 44 }),
      xAxis: { type: "category", data: data.monthLabels, splitArea: { show: true },
        axisLabel: { color: MUTED } },
      // inverse: cities read top-down in org-code order, like the tables elsewhere.
      yAxis: { type: "category", data: data.cities.map(function (c) { return c.name; }),
        inverse: true, splitArea: { show: true }, axisLabel: { color: MUTED } },
      visualMap: {
        min: 0, max: max > 0 ? max : 1, calculable: true, orient: "horizontal",
        left: "center", bottom: 0, itemHeight: 160, itemWidth: 12,
        text: ["", data.labels.churn], textStyle: { color: MUTED },
        formatter: function (value) { return fmt.percent(value); },
        inRange: { color: ["#f1f6fd", "#ffe8a3", "#f08c00", "#c92a2a"] },
      },
      series: [{
        name: data.labels.churn,
        type: "heatmap",
        data: cells,
        label: {
          show: data.months.length <= 6, fontSize: 11,
          formatter: function (p) { return p.value[2] === "-" ? "" : p.value[2].toFixed(1); },
        },
        emphasis: { itemStyle: { borderColor: "#1d2433", borderWidth: 1 } },
      }],
    }));
  }

  function revenueByMonth(data, fmt) {
    const chart = charts.make("chart-revenue", data);
    if (!chart) {
      return;
    }
    chart.setOption(Object.assign(TC.base(PALETTE), {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: fmt.yuan,
        confine: true },
      legend: { type: "scroll", top: 0, textStyle: { color: MUTED } },
      grid: GRID,
      xAxis: { type: "category", data: data.monthLabels, axisLabel: { color: MUTED } },
      yAxis: { type: "value", axisLabel: { formatter: fmt.compactYuan, color: MUTED } },
      series: data.cities.map(function (city) {
        return {
          name: city.name,
          type: "bar",
          stack: "revenue",
          data: city.revenueYuan,
          barMaxWidth: 42,
          emphasis: { focus: "series" },
        };
      }),
    }));
  }

  function drawAll() {
    charts.clear();
    const data = TC.readData("overview-data");
    if (!data || typeof echarts === "undefined") {
      return;
    }
    const fmt = formatters(data.locale);
    subscribersByCity(data, fmt);
    arpuTrend(data, fmt);
    churnHeatmap(data, fmt);
    revenueByMonth(data, fmt);
  }

  TC.onReady(drawAll, "overview-body");
})();
