SELECT
  "t21"."subscriber_id"
FROM (
  SELECT
    "t6"."subscriber_id",
    "t6"."msisdn",
    "t6"."customer_name",
    "t6"."id_number",
    "t6"."gender",
    "t6"."birth_year",
    "t6"."payment_type",
    "t6"."plan_id",
    "t6"."join_date",
    "t6"."contract_end",
    "t6"."handset_brand",
    "t6"."handset_5g",
    "t6"."handset_date",
    "t6"."household_id",
    "t6"."account_id",
    "t6"."org_id",
    "t6"."grid_id",
    "t6"."status",
    "t6"."status_date",
    "t6"."port_out_date",
    "t20"."k_usage",
    "t20"."u3_avg_arpu_fen",
    "t20"."u3_min_arpu_fen",
    "t20"."u3_sum_data_mb",
    "t20"."t3_voice_min",
    "t20"."u6_max_voice_min",
    "t16"."k_r2",
    "t16"."r2_count",
    "t16"."r2_sum",
    "t18"."k_prod",
    "t18"."prod_0",
    "t18"."prod_1",
    "t12"."k_org",
    "t12"."org_0"
  FROM "subscribers" AS "t6"
  LEFT OUTER JOIN (
    SELECT
      "t8"."subscriber_id" AS "k_usage",
      CAST(SUM(CAST("t8"."arpu_fen" AS BIGINT)) FILTER(WHERE
        "t8"."month" >= MAKE_DATE(2026, 4, 1)) AS DOUBLE) / CAST(COUNT(*) FILTER(WHERE
        "t8"."month" >= MAKE_DATE(2026, 4, 1)) AS DOUBLE) AS "u3_avg_arpu_fen",
      MIN(CAST("t8"."arpu_fen" AS BIGINT)) FILTER(WHERE
        "t8"."month" >= MAKE_DATE(2026, 4, 1)) AS "u3_min_arpu_fen",
      SUM(CAST("t8"."data_mb" AS BIGINT)) FILTER(WHERE
        "t8"."month" >= MAKE_DATE(2026, 4, 1)) AS "u3_sum_data_mb",
      CASE
        WHEN COUNT(*) FILTER(WHERE
          "t8"."month" >= MAKE_DATE(2026, 4, 1)) >= 2
        THEN CAST((
          COUNT(*) FILTER(WHERE
            "t8"."month" >= MAKE_DATE(2026, 4, 1)) * SUM(
            (
              (
                (
                  (
                    CAST(EXTRACT(year FROM "t8"."month") AS BIGINT) * 12
                  ) + CAST(EXTRACT(month FROM "t8"."month") AS BIGINT)
                ) - 1
              ) - 24315
            ) * CAST("t8"."voice_min" AS BIGINT)
          ) FILTER(WHERE
            "t8"."month" >= MAKE_DATE(2026, 4, 1))
        ) - (
          SUM(
            (
              (
                (
                  CAST(EXTRACT(year FROM "t8"."month") AS BIGINT) * 12
                ) + CAST(EXTRACT(month FROM "t8"."month") AS BIGINT)
              ) - 1
            ) - 24315
          ) FILTER(WHERE
            "t8"."month" >= MAKE_DATE(2026, 4, 1)) * SUM(CAST("t8"."voice_min" AS BIGINT)) FILTER(WHERE
            "t8"."month" >= MAKE_DATE(2026, 4, 1))
        ) AS DOUBLE) / CAST((
          COUNT(*) FILTER(WHERE
            "t8"."month" >= MAKE_DATE(2026, 4, 1)) * SUM(
            (
              (
                (
                  (
                    CAST(EXTRACT(year FROM "t8"."month") AS BIGINT) * 12
                  ) + CAST(EXTRACT(month FROM "t8"."month") AS BIGINT)
                ) - 1
              ) - 24315
            ) * (
              (
                (
                  (
                    CAST(EXTRACT(year FROM "t8"."month") AS BIGINT) * 12
                  ) + CAST(EXTRACT(month FROM "t8"."month") AS BIGINT)
                ) - 1
              ) - 24315
            )
          ) FILTER(WHERE
            "t8"."month" >= MAKE_DATE(2026, 4, 1))
        ) - (
          SUM(
            (
              (
                (
                  CAST(EXTRACT(year FROM "t8"."month") AS BIGINT) * 12
                ) + CAST(EXTRACT(month FROM "t8"."month") AS BIGINT)
              ) - 1
            ) - 24315
          ) FILTER(WHERE
            "t8"."month" >= MAKE_DATE(2026, 4, 1)) * SUM(
            (
              (
                (
                  CAST(EXTRACT(year FROM "t8"."month") AS BIGINT) * 12
                ) + CAST(EXTRACT(month FROM "t8"."month") AS BIGINT)
              ) - 1
            ) - 24315
          ) FILTER(WHERE
            "t8"."month" >= MAKE_DATE(2026, 4, 1))
        ) AS DOUBLE)
        ELSE NULL
      END AS "t3_voice_min",
      MAX(CAST("t8"."voice_min" AS BIGINT)) AS "u6_max_voice_min"
    FROM (
      SELECT
        *
      FROM "usage_monthly" AS "t2"
      WHERE
        "t2"."month" >= MAKE_DATE(2026, 1, 1) AND "t2"."month" <= MAKE_DATE(2026, 6, 1)
    ) AS "t8"
    GROUP BY
      1
  ) AS "t20"
    ON "t6"."subscriber_id" = "t20"."k_usage"
  LEFT OUTER JOIN (
    SELECT
      "t13"."subscriber_id" AS "k_r2",
      COUNT(*) AS "r2_count",
      SUM("t13"."amount_fen") AS "r2_sum"
    FROM (
      SELECT
        *
      FROM "recharges" AS "t3"
      WHERE
        (
          (
            (
              CAST(EXTRACT(year FROM "t3"."recharged_at") AS BIGINT) * 12
            ) + CAST(EXTRACT(month FROM "t3"."recharged_at") AS BIGINT)
          ) - 1
        ) >= 24316
        AND (
          (
            (
              CAST(EXTRACT(year FROM "t3"."recharged_at") AS BIGINT) * 12
            ) + CAST(EXTRACT(month FROM "t3"."recharged_at") AS BIGINT)
          ) - 1
        ) <= 24317
    ) AS "t13"
    GROUP BY
      1
  ) AS "t16"
    ON "t6"."subscriber_id" = "t16"."k_r2"
  LEFT OUTER JOIN (
    SELECT
      "t14"."subscriber_id" AS "k_prod",
      MAX(CASE WHEN "t14"."family" = '5g_plan' THEN 1 ELSE 0 END) AS "prod_0",
      MAX(CASE WHEN "t14"."product_kind" = 'iptv' THEN 1 ELSE 0 END) AS "prod_1"
    FROM (
      SELECT
        "t11"."subscriber_id",
        "t11"."product_id",
        "t7"."family",
        "t7"."kind" AS "product_kind"
      FROM (
        SELECT
          *
        FROM "subscriptions" AS "t4"
        WHERE
          "t4"."start_date" <= MAKE_DATE(2026, 6, 30)
          AND (
            (
              "t4"."end_date" IS NULL
            ) OR (
              "t4"."end_date" >= MAKE_DATE(2026, 6, 30)
            )
          )
      ) AS "t11"
      INNER JOIN "products" AS "t7"
        ON "t11"."product_id" = "t7"."product_id"
    ) AS "t14"
    GROUP BY
      1
  ) AS "t18"
    ON "t6"."subscriber_id" = "t18"."k_prod"
  LEFT OUTER JOIN (
    SELECT
      "t1"."descendant_id" AS "k_org",
      MAX(CASE WHEN "t1"."ancestor_id" IN ('C02') THEN 1 ELSE 0 END) AS "org_0"
    FROM "org_closure" AS "t1"
    GROUP BY
      1
  ) AS "t12"
    ON "t6"."org_id" = "t12"."k_org"
) AS "t21"
WHERE
  "t21"."handset_brand" = 'O''Brien''; DROP TABLE x'
  AND "t21"."u3_avg_arpu_fen" >= 5000
  AND "t21"."u3_min_arpu_fen" > 100
  AND "t21"."u3_sum_data_mb" > 10
  AND "t21"."t3_voice_min" < 0
  AND "t21"."u6_max_voice_min" < 900
  AND (
    (
      "t21"."prod_0" = 1
    ) OR (
      "t21"."prod_1" = 1
    )
  )
  AND COALESCE("t21"."r2_sum", 0) >= 3000
  AND NOT (
    COALESCE("t21"."org_0" = 1, FALSE)
  )
