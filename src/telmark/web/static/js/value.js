// Customer value pages (Apache ECharts, vendored). The value page's data comes as a JSON block
// (#value-data) rendered by the server; the fits page posts its forms to the JSON API
// (/api/analysis/retention/fit, /api/analysis/clv/fit) and draws the answers.
(function () {
  "use strict";

  const TC = window.TelmarkCharts;
  const PALETTE = TC.PALETTE;
  // Tier colours, top tier first: VIP, gold, star, non-member.
  const TIER_COLOURS = { vip: "#7b61d1", gold: "#f59f00", star: "#1c7ed6", non_member: "#adb5bd" };
  const MUTED = TC.MUTED;
  const GRID = { left: 8, right: 20, top: 40, bottom: 8, containLabel: true };
  // Room below the axis for an x-axis name.
  const NAMED_GRID = Object.assign({}, GRID, { bottom: 30 });
  const charts = TC.group();

  function formatters(locale) {
    return {
      count: TC.formatter(locale, TC.FORMATS.count),
      decimal: TC.formatter(locale, { maximumFractionDigits: 4 }),
      yuan: TC.formatter(locale, TC.FORMATS.yuan),
      percent: TC.formatter(locale, { style: "percent", maximumFractionDigits: 1 }),
    };
  }

  // --- value page -------------------------------------------------------------------------

  function tierShares(data, fmt) {
    const chart = charts.make("chart-tiers", data);
    if (!chart) {
      return;
    }
    const names = [data.labels.linesShare, data.labels.revenueShare];
    chart.setOption(Object.assign(TC.base(PALETTE), {
      tooltip: { trigger: "item", valueFormatter: fmt.percent },
      legend: { top: 0, textStyle: { color: MUTED } },
      grid: Object.assign({}, GRID, { top: 36 }),
      xAxis: { type: "value", max: 1, axisLabel: { formatter: fmt.percent, color: MUTED } },
      yAxis: { type: "category", data: names, axisLabel: { color: MUTED } },
      series: data.tiers.map(function (tier) {
        return {
          name: tier.name,
          type: "bar",
          stack: "share",
          barMaxWidth: 36,
          itemStyle: { color: TIER_COLOURS[tier.tier] },
          data: [tier.lines_share, tier.revenue_share],
          label: {
            show: true, color: "#fff",
            formatter: function (p) { return p.value >= 0.06 ? fmt.percent(p.value) : ""; },
          },
        };
      }),
    }));
  }

  function tiersByUnit(data, fmt) {
    const chart = charts.make("chart-units", data);
    if (!chart || !data.units.length) {
      return;
    }
    chart.setOption(Object.assign(TC.base(PALETTE), {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: fmt.count,
        confine: true },
      legend: { top: 0, textStyle: { color: MUTED } },
      grid: GRID,
      xAxis: { type: "category", data: data.units.map(function (u) { return u.name; }),
        axisLabel: { color: MUTED, rotate: data.units.length > 8 ? 35 : 0 } },
      yAxis: { type: "value", axisLabel: { formatter: fmt.count, color: MUTED } },
      series: data.tierOrder.map(function (tier) {
        return {
          name: data.tierNames[tier],
          type: "bar",
          stack: "lines",
          barMaxWidth: 36,
          itemStyle: { color: TIER_COLOURS[tier] },
          emphasis: { focus: "series" },
          data: data.units.map(function (u) { return u.lines[tier] || 0; }),
        };
      }),
    }));
  }

  function decayCurve(data, fmt) {
    const chart = charts.make("chart-decay", data);
    if (!chart) {
      return;
    }
    const last = data.recency.length ? data.recency[data.recency.length - 1].months : 0;
    const months = data.recency.map(function (r) {
      return r.months === last && last >= 12 ? r.months + "+" : String(r.months);
    });
    chart.setOption(Object.assign(TC.base(PALETTE), {
      tooltip: { trigger: "axis", confine: true },
      legend: { top: 0, textStyle: { color: MUTED } },
      grid: NAMED_GRID,
      xAxis: { type: "category", data: months, name: data.labels.months, nameLocation: "middle",
        nameGap: 26, axisLabel: { color: MUTED } },
      yAxis: [
        { type: "log", axisLabel: { formatter: fmt.count, color: MUTED } },
        { type: "value", min: 0, max: 1, axisLabel: { formatter: fmt.percent, color: MUTED } },
      ],
      series: [
        { name: data.labels.lines, type: "bar", barMaxWidth: 28,
          data: data.recency.map(function (r) { return r.lines; }),
          tooltip: { valueFormatter: fmt.count } },
        { name: data.labels.kept, type: "line", yAxisIndex: 1, symbolSize: 7,
          lineStyle: { width: 3 }, itemStyle: { color: PALETTE[3] },
          data: data.recency.map(function (r) { return r.kept; }),
          tooltip: { valueFormatter: fmt.percent } },
      ],
    }));
  }

  function clvDistribution(data, fmt) {
    const chart = charts.make("chart-clv", data);
    if (!chart) {
      return;
    }
    const bands = [];
    data.clv.forEach(function (b) {
      if (bands.indexOf(b.lower) < 0) {
        bands.push(b.lower);
      }
    });
    bands.sort(function (a, b) { return a - b; });
    const bandLabel = function (lower) {
      const match = data.clv.find(function (b) { return b.lower === lower; });
      return match && match.upper !== null ? fmt.count(lower) + "–" + fmt.count(match.upper)
        : "≥ " + fmt.count(lower);
    };
    const models = [];
    data.clv.forEach(function (b) {
      if (!models.some(function (m) { return m.model === b.model; })) {
        models.push({ model: b.model, name: b.modelName });
      }
    });
    chart.setOption(Object.assign(TC.base(PALETTE), {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: fmt.count,
        confine: true },
      legend: { top: 0, textStyle: { color: MUTED } },
      grid: NAMED_GRID,
      xAxis: { type: "category", data: bands.map(bandLabel), name: data.labels.clv,
        nameLocation: "middle", nameGap: 26, axisLabel: { color: MUTED, interval: 0 } },
      yAxis: { type: "value", axisLabel: { formatter: fmt.count, color: MUTED } },
      series: models.map(function (m) {
        return {
          name: m.name,
          type: "bar",
          barMaxWidth: 28,
          data: bands.map(function (lower) {
            const hit = data.clv.find(function (b) { return b.model === m.model && b.lower === lower; });
            return hit ? hit.lines : 0;
          }),
        };
      }),
    }));
  }

  function cohortCurves(data, fmt) {
    const chart = charts.make("chart-cohorts", data);
    if (!chart) {
      return;
    }
    const longest = data.cohorts.reduce(function (n, c) {
      return Math.max(n, c.first + c.observed.length);
    }, 0);
    const xs = [];
    for (let t = 0; t < longest; t += 1) {
      xs.push(t);
    }
    const series = [];
    data.cohorts.forEach(function (cohort, i) {
      const colour = PALETTE[i % PALETTE.length];
      const pad = function (values) {
        return xs.map(function (t) {
          const k = t - cohort.first;
          return k >= 0 && k < values.length ? values[k] : null;
        });
      };
      series.push({ name: cohort.name, type: "line", data: pad(cohort.observed), symbolSize: 5,
        itemStyle: { color: colour }, lineStyle: { width: 2 } });
      if (cohort.fitted) {
        series.push({ name: cohort.name, type: "line", data: pad(cohort.fitted), symbol: "none",
          itemStyle: { color: colour }, lineStyle: { width: 1.5, type: "dashed" },
          tooltip: { show: false } });
      }
    });
    chart.setOption(Object.assign(TC.base(PALETTE), {
      tooltip: { trigger: "axis", valueFormatter: fmt.percent, confine: true },
      legend: { type: "scroll", top: 0, textStyle: { color: MUTED } },
      grid: NAMED_GRID,
      xAxis: { type: "category", data: xs, name: data.labels.month, nameLocation: "middle",
        nameGap: 26, axisLabel: { color: MUTED } },
      yAxis: { type: "value", scale: true, axisLabel: { formatter: fmt.percent, color: MUTED } },
      series: series,
    }));
  }

  // --- API calls (value refresh, fits) ------------------------------------------------------

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function post(url, body, json) {
    const headers = { "X-CSRF-Token": csrfToken(), Accept: "application/json" };
    if (json) {
      headers["Content-Type"] = "application/json";
    }
    return fetch(url, {
      method: "POST", headers: headers, credentials: "same-origin",
      body: json ? JSON.stringify(body) : body,
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (payload) {
        if (!response.ok) {
          const details = (payload.details || []).slice(0, 5).map(function (d) {
            return Object.keys(d).map(function (k) { return k + "=" + d[k]; }).join(", ");
          });
          const detail = payload.detail && Array.isArray(payload.detail)
            ? payload.detail.map(function (d) { return (d.loc || []).join(".") + ": " + d.msg; })
            : [];
          throw new Error([payload.message || response.statusText].concat(details, detail)
            .join("; "));
        }
        return payload;
      });
    });
  }

  function bindRefresh() {
    document.querySelectorAll("[data-value-refresh]").forEach(function (button) {
      button.addEventListener("click", function () {
        const status = button.parentElement.querySelector("[data-value-refresh-status]");
        button.disabled = true;
        if (status) {
          status.textContent = "…";
        }
        post("/api/analysis/value/refresh", {}, true).then(function () {
          window.location.reload();
        }).catch(function (error) {
          button.disabled = false;
          if (status) {
            status.textContent = error.message;
          }
        });
      });
    });
  }

  function showError(section, message) {
    const box = section.querySelector("[data-error]");
    box.textContent = message;
    box.hidden = !message;
    if (message) {
      section.querySelector("[data-result]").hidden = true;
    }
  }

  function out(section, key, text) {
    const node = section.querySelector('[data-out="' + key + '"]');
    if (node) {
      node.textContent = text;
    }
  }

  function bindRetentionFit(data, fmt) {
    const form = document.querySelector('form[data-fit="retention"]');
    if (!form) {
      return;
    }
    const section = form.closest("section");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const text = form.elements.survivors.value;
      const parts = text.split(",").map(function (p) { return p.trim(); }).filter(Boolean);
      if (!parts.every(function (p) { return /^[0-9]+$/.test(p); })) {
        showError(section, form.elements.survivors.closest("label").firstChild.textContent.trim()
          + ": " + text);
        return;
      }
      const body = { survivors: parts.map(Number) };
      if (form.elements.periods.value) {
        body.periods = Number(form.elements.periods.value);
      }
      post("/api/analysis/retention/fit", body, true).then(function (fit) {
        showError(section, "");
        out(section, "alpha", fmt.decimal(fit.alpha));
        out(section, "beta", fmt.decimal(fit.beta));
        out(section, "log_likelihood", fmt.decimal(fit.log_likelihood));
        out(section, "cohort_size", fmt.count(fit.cohort_size));
        section.querySelector("[data-result]").hidden = false;
        const chart = charts.make("chart-retention-fit", data);
        const periods = [0].concat(fit.projection.map(function (p) { return p.period; }));
        chart.setOption(Object.assign(TC.base(PALETTE), {
          tooltip: { trigger: "axis", valueFormatter: fmt.count },
          legend: { top: 0, textStyle: { color: MUTED } },
          grid: NAMED_GRID,
          xAxis: { type: "category", data: periods, name: data.labels.period,
            nameLocation: "middle", nameGap: 26 },
          yAxis: { type: "value", axisLabel: { formatter: fmt.count, color: MUTED } },
          series: [
            { name: data.labels.observed, type: "line", symbolSize: 7,
              data: [fit.cohort_size].concat(fit.projection.map(function (p) {
                return p.observed_survivors;
              })) },
            { name: data.labels.expected, type: "line", symbol: "none",
              lineStyle: { type: "dashed", width: 2 },
              data: [fit.cohort_size].concat(fit.projection.map(function (p) {
                return Math.round(p.expected_survivors * 10) / 10;
              })) },
          ],
        }));
      }).catch(function (error) { showError(section, error.message); });
    });
  }

  function bindClvFit(fmt) {
    const form = document.querySelector('form[data-fit="clv"]');
    if (!form) {
      return;
    }
    const section = form.closest("section");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const body = new FormData(form);
      post("/api/analysis/clv/fit", body, false).then(function (fit) {
        showError(section, "");
        const p = fit.purchases;
        const s = fit.spend;
        out(section, "purchases_ra", fmt.decimal(p.r) + ", " + fmt.decimal(p.alpha));
        out(section, "purchases_ab", fmt.decimal(p.a) + ", " + fmt.decimal(p.b));
        out(section, "spend", [s.p, s.q, s.gamma].map(fmt.decimal).join(", "));
        out(section, "customers", fmt.count(p.customers));
        const tbody = section.querySelector("#clv-top tbody");
        tbody.replaceChildren();
        fit.customers.slice(0, 20).forEach(function (c) {
          const row = document.createElement("tr");
          [c.customer, fmt.count(c.frequency), fmt.percent(c.probability_alive),
            fmt.decimal(c.expected_purchases), fmt.decimal(c.expected_spend), fmt.decimal(c.clv),
          ].forEach(function (text, i) {
            const cell = document.createElement("td");
            cell.textContent = text;
            if (i > 0) {
              cell.className = "num";
            }
            row.appendChild(cell);
          });
          tbody.appendChild(row);
        });
        section.querySelector("[data-result]").hidden = false;
      }).catch(function (error) { showError(section, error.message); });
    });
  }

  function init() {
    const data = TC.readData("value-data");
    bindRefresh();
    if (!data) {
      return;
    }
    const fmt = formatters(data.locale);
    if (data.tiers) {
      tierShares(data, fmt);
      tiersByUnit(data, fmt);
      decayCurve(data, fmt);
      clvDistribution(data, fmt);
      cohortCurves(data, fmt);
    }
    bindRetentionFit(data, fmt);
    bindClvFit(fmt);
  }

  TC.onReady(init);
})();
