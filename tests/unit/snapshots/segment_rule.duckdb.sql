SELECT
  "t24"."subscriber_id"
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
    "t23"."k_w3",
    "t23"."u3_avg_arpu_fen",
    "t23"."u3_min_arpu_fen",
    "t23"."u3_sum_data_mb",
    "t23"."t3_voice_min",
    "t15"."k_w6",
    "t15"."u6_max_voice_min",
    "t19"."k_r2",
    "t19"."r2_count",
    "t19"."r2_sum",
    "t21"."k_prod",
    "t21"."prod_0",
    "t21"."prod_1",
    "t13"."k_org",
    "t13"."org_0"
  FROM "subscribers" AS "t6"
  LEFT OUTER JOIN (
    SELECT
      "t8"."subscriber_id" AS "k_w3",
      CAST(SUM(CAST("t8"."arpu_fen" AS BIGINT)) AS DOUBLE) / CAST(COUNT(*) AS DOUBLE) AS "u3_avg_arpu_fen",
      MIN(CAST("t8"."arpu_fen" AS BIGINT)) AS "u3_min_arpu_fen",
      SUM(CAST("t8"."data_mb" AS BIGINT)) AS "u3_sum_data_mb",
      CASE
        WHEN COUNT(*) >= 2
        THEN CAST((
          COUNT(*) * SUM(
            (
              (
                (
                  (
                    CAST(EXTRACT(year FROM "t8"."month") AS BIGINT) * 12
                  ) + CAST(EXTRACT(month FROM "t8"."month") AS BIGINT)
                ) - 1
              ) - 24315
            ) * CAST("t8"."voice_min" AS BIGINT)
          )
        ) - (
          SUM(
            (
              (
                (
                  CAST(EXTRACT(year FROM "t8"."month") AS BIGINT) * 12
                ) + CAST(EXTRACT(month FROM "t8"."month") AS BIGINT)
              ) - 1
            ) - 24315
          ) * SUM(CAST("t8"."voice_min" AS BIGINT))
        ) AS DOUBLE) / CAST((
          COUNT(*) * SUM(
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
          )
        ) - (
          SUM(
            (
              (
                (
                  CAST(EXTRACT(year FROM "t8"."month") AS BIGINT) * 12
                ) + CAST(EXTRACT(month FROM "t8"."month") AS BIGINT)
              ) - 1
            ) - 24315
          ) * SUM(
            (
              (
                (
                  CAST(EXTRACT(year FROM "t8"."month") AS BIGINT) * 12
                ) + CAST(EXTRACT(month FROM "t8"."month") AS BIGINT)
              ) - 1
            ) - 24315
          )
        ) AS DOUBLE)
        ELSE NULL
      END AS "t3_voice_min"
    FROM (
      SELECT
        *
      FROM "usage_monthly" AS "t2"
      WHERE
        "t2"."month" >= MAKE_DATE(2026, 4, 1) AND "t2"."month" <= MAKE_DATE(2026, 6, 1)
    ) AS "t8"
    GROUP BY
      1
  ) AS "t23"
    ON "t6"."subscriber_id" = "t23"."k_w3"
  LEFT OUTER JOIN (
    SELECT
      "t9"."subscriber_id" AS "k_w6",
      MAX(CAST("t9"."voice_min" AS BIGINT)) AS "u6_max_voice_min"
    FROM (
      SELECT
        *
      FROM "usage_monthly" AS "t2"
      WHERE
        "t2"."month" >= MAKE_DATE(2026, 1, 1) AND "t2"."month" <= MAKE_DATE(2026, 6, 1)
    ) AS "t9"
    GROUP BY
      1
  ) AS "t15"
    ON "t6"."subscriber_id" = "t15"."k_w6"
  LEFT OUTER JOIN (
    SELECT
      "t16"."subscriber_id" AS "k_r2",
      COUNT(*) AS "r2_count",
      SUM("t16"."amount_fen") AS "r2_sum"
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
    ) AS "t16"
    GROUP BY
      1
  ) AS "t19"
    ON "t6"."subscriber_id" = "t19"."k_r2"
  LEFT OUTER JOIN (
    SELECT
      "t17"."subscriber_id" AS "k_prod",
      MAX(CASE WHEN "t17"."family" = '5g_plan' THEN 1 ELSE 0 END) AS "prod_0",
      MAX(CASE WHEN "t17"."product_kind" = 'iptv' THEN 1 ELSE 0 END) AS "prod_1"
    FROM (
      SELECT
        "t12"."subscriber_id",
        "t12"."product_id",
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
      ) AS "t12"
      INNER JOIN "products" AS "t7"
        ON "t12"."product_id" = "t7"."product_id"
    ) AS "t17"
    GROUP BY
      1
  ) AS "t21"
    ON "t6"."subscriber_id" = "t21"."k_prod"
  LEFT OUTER JOIN (
    SELECT
      "t1"."descendant_id" AS "k_org",
      MAX(CASE WHEN "t1"."ancestor_id" IN ('C02') THEN 1 ELSE 0 END) AS "org_0"
    FROM "org_closure" AS "t1"
    GROUP BY
      1
  ) AS "t13"
    ON "t6"."org_id" = "t13"."k_org"
) AS "t24"
WHERE
  "t24"."handset_brand" = 'O''Brien''; DROP TABLE x'
  AND "t24"."u3_avg_arpu_fen" >= 5000
  AND "t24"."u3_min_arpu_fen" > 100
  AND "t24"."u3_sum_data_mb" > 10
  AND "t24"."t3_voice_min" < 0
  AND "t24"."u6_max_voice_min" < 900
  AND (
    (
      "t24"."prod_0" = 1
    ) OR (
      "t24"."prod_1" = 1
    )
  )
  AND COALESCE("t24"."r2_sum", 0) >= 3000
  AND NOT (
    COALESCE("t24"."org_0" = 1, FALSE)
  )
