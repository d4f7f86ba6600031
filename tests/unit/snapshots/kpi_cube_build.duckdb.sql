SELECT
  "t34"."org_id",
  "t34"."month",
  "t34"."plan_family",
  "t34"."payment_type",
  "t34"."subscribers",
  "t34"."opening_subscribers",
  "t34"."gross_adds",
  "t34"."port_outs",
  "t34"."terminations",
  "t34"."revenue_fen",
  "t34"."billed_lines",
  "t34"."data_mb",
  "t34"."voice_min",
  "t34"."lines_5g",
  "t34"."bundle_lines",
  "t34"."complaints",
  MAKE_TIMESTAMP(2024, 4, 1, 6, 0, 0.0) AS "built_at"
FROM (
  SELECT
    "t33"."org_id",
    "t33"."month",
    "t33"."plan_family",
    "t33"."payment_type",
    SUM("t33"."subscribers") AS "subscribers",
    SUM("t33"."opening_subscribers") AS "opening_subscribers",
    SUM("t33"."gross_adds") AS "gross_adds",
    SUM("t33"."port_outs") AS "port_outs",
    SUM("t33"."terminations") AS "terminations",
    SUM("t33"."revenue_fen") AS "revenue_fen",
    SUM("t33"."billed_lines") AS "billed_lines",
    SUM("t33"."data_mb") AS "data_mb",
    SUM("t33"."voice_min") AS "voice_min",
    SUM("t33"."lines_5g") AS "lines_5g",
    SUM("t33"."bundle_lines") AS "bundle_lines",
    SUM("t33"."complaints") AS "complaints"
  FROM (
    SELECT
      *
    FROM (
      SELECT
        "t26"."org_id",
        "t26"."month",
        COALESCE("t26"."family", 'unknown') AS "plan_family",
        "t26"."payment_type",
        0 AS "subscribers",
        0 AS "opening_subscribers",
        0 AS "gross_adds",
        0 AS "port_outs",
        0 AS "terminations",
        0 AS "revenue_fen",
        0 AS "billed_lines",
        0 AS "data_mb",
        0 AS "voice_min",
        0 AS "lines_5g",
        0 AS "bundle_lines",
        "t26"."complaints"
      FROM (
        SELECT
          "t23"."org_id",
          "t23"."plan_id",
          "t23"."payment_type",
          "t23"."month",
          "t23"."complaints",
          "t11"."product_id",
          "t11"."family",
          "t11"."is_5g"
        FROM (
          SELECT
            "t17"."org_id",
            "t17"."plan_id",
            "t17"."payment_type",
            "t17"."month",
            COUNT(*) AS "complaints"
          FROM (
            SELECT
              *
            FROM (
              SELECT
                "t7"."org_id",
                "t7"."plan_id",
                "t7"."payment_type",
                CAST(DATE_TRUNC('MONTH', "t5"."created_at") AS DATE) AS "month"
              FROM "complaints" AS "t5"
              INNER JOIN "subscribers" AS "t7"
                ON "t5"."subscriber_id" = "t7"."subscriber_id"
            ) AS "t15"
            WHERE
              "t15"."month" IN (MAKE_DATE(2024, 1, 1), MAKE_DATE(2024, 2, 1), MAKE_DATE(2024, 3, 1))
          ) AS "t17"
          GROUP BY
            1,
            2,
            3,
            4
        ) AS "t23"
        LEFT OUTER JOIN (
          SELECT
            "t0"."product_id",
            "t0"."family",
            "t0"."is_5g"
          FROM "products" AS "t0"
        ) AS "t11"
          ON "t23"."plan_id" = "t11"."product_id"
      ) AS "t26"
    ) AS "t29"
    UNION ALL
    SELECT
      *
    FROM (
      SELECT
        *
      FROM (
        SELECT
          "t30"."org_id",
          "t30"."month",
          "t30"."plan_family",
          "t30"."payment_type",
          "t30"."subscribers",
          "t30"."opening_subscribers",
          "t30"."gross_adds",
          "t30"."port_outs",
          "t30"."terminations",
          0 AS "revenue_fen",
          0 AS "billed_lines",
          0 AS "data_mb",
          0 AS "voice_min",
          "t30"."lines_5g",
          "t30"."bundle_lines",
          0 AS "complaints"
        FROM (
          SELECT
            "t27"."org_id",
            "t27"."month",
            COALESCE("t27"."family", 'unknown') AS "plan_family",
            "t27"."payment_type",
            SUM(
              CASE
                WHEN (
                  "t27"."join_key" <= "t27"."month"
                )
                AND (
                  (
                    "t27"."exit_key" IS NULL
                  ) OR (
                    "t27"."exit_key" > "t27"."month"
                  )
                )
                THEN "t27"."lines"
                ELSE 0
              END
            ) AS "subscribers",
            SUM(
              CASE
                WHEN (
                  "t27"."join_key" < "t27"."month"
                )
                AND (
                  (
                    "t27"."exit_key" IS NULL
                  ) OR (
                    "t27"."exit_key" >= "t27"."month"
                  )
                )
                THEN "t27"."lines"
                ELSE 0
              END
            ) AS "opening_subscribers",
            SUM(CASE WHEN "t27"."join_key" = "t27"."month" THEN "t27"."lines" ELSE 0 END) AS "gross_adds",
            SUM(CASE WHEN "t27"."port_key" = "t27"."month" THEN "t27"."lines" ELSE 0 END) AS "port_outs",
            SUM(CASE WHEN "t27"."terminated_key" = "t27"."month" THEN "t27"."lines" ELSE 0 END) AS "terminations",
            SUM(
              CASE
                WHEN (
                  "t27"."join_key" <= "t27"."month"
                )
                AND (
                  (
                    "t27"."exit_key" IS NULL
                  ) OR (
                    "t27"."exit_key" > "t27"."month"
                  )
                )
                AND COALESCE("t27"."is_5g", FALSE)
                THEN "t27"."lines"
                ELSE 0
              END
            ) AS "lines_5g",
            SUM(
              CASE
                WHEN (
                  "t27"."join_key" <= "t27"."month"
                )
                AND (
                  (
                    "t27"."exit_key" IS NULL
                  ) OR (
                    "t27"."exit_key" > "t27"."month"
                  )
                )
                AND "t27"."in_bundle"
                THEN "t27"."lines"
                ELSE 0
              END
            ) AS "bundle_lines"
          FROM (
            SELECT
              "t24"."org_id",
              "t24"."plan_id",
              "t24"."payment_type",
              "t24"."in_bundle",
              "t24"."join_key",
              "t24"."exit_key",
              "t24"."terminated_key",
              "t24"."port_key",
              "t24"."lines",
              "t11"."product_id",
              "t11"."family",
              "t11"."is_5g",
              "t12"."month"
            FROM (
              SELECT
                "t19"."org_id",
                "t19"."plan_id",
                "t19"."payment_type",
                "t19"."in_bundle",
                "t19"."join_key",
                "t19"."exit_key",
                "t19"."terminated_key",
                "t19"."port_key",
                COUNT(*) AS "lines"
              FROM (
                SELECT
                  "t8"."org_id",
                  "t8"."plan_id",
                  "t8"."payment_type",
                  "t14"."bundle_household" IS NOT NULL AS "in_bundle",
                  GREATEST(DATE_TRUNC('MONTH', "t8"."join_date"), MAKE_DATE(2023, 12, 1)) AS "join_key",
                  CASE
                    WHEN "t8"."status" IN ('ported_out', 'terminated')
                    AND (
                      DATE_TRUNC('MONTH', "t8"."status_date") <= MAKE_DATE(2024, 3, 1)
                    )
                    THEN GREATEST(DATE_TRUNC('MONTH', "t8"."status_date"), MAKE_DATE(2023, 12, 1))
                    ELSE CAST(NULL AS DATE)
                  END AS "exit_key",
                  CASE
                    WHEN "t8"."status" = 'terminated'
                    THEN CASE
                      WHEN (
                        DATE_TRUNC('MONTH', "t8"."status_date") >= MAKE_DATE(2024, 1, 1)
                      )
                      AND (
                        DATE_TRUNC('MONTH', "t8"."status_date") <= MAKE_DATE(2024, 3, 1)
                      )
                      THEN DATE_TRUNC('MONTH', "t8"."status_date")
                      ELSE CAST(NULL AS DATE)
                    END
                    ELSE CAST(NULL AS DATE)
                  END AS "terminated_key",
                  CASE
                    WHEN (
                      DATE_TRUNC('MONTH', "t8"."port_out_date") >= MAKE_DATE(2024, 1, 1)
                    )
                    AND (
                      DATE_TRUNC('MONTH', "t8"."port_out_date") <= MAKE_DATE(2024, 3, 1)
                    )
                    THEN DATE_TRUNC('MONTH', "t8"."port_out_date")
                    ELSE CAST(NULL AS DATE)
                  END AS "port_key"
                FROM "subscribers" AS "t8"
                LEFT OUTER JOIN (
                  SELECT
                    "t4"."household_id" AS "bundle_household"
                  FROM "households" AS "t4"
                  WHERE
                    "t4"."bundle_id" IS NOT NULL
                ) AS "t14"
                  ON "t8"."household_id" = "t14"."bundle_household"
              ) AS "t19"
              GROUP BY
                1,
                2,
                3,
                4,
                5,
                6,
                7,
                8
            ) AS "t24"
            LEFT OUTER JOIN (
              SELECT
                "t0"."product_id",
                "t0"."family",
                "t0"."is_5g"
              FROM "products" AS "t0"
            ) AS "t11"
              ON "t24"."plan_id" = "t11"."product_id"
            CROSS JOIN (
              SELECT DISTINCT
                "t2"."month"
              FROM "usage_monthly" AS "t2"
            ) AS "t12"
          ) AS "t27"
          GROUP BY
            1,
            2,
            3,
            4
        ) AS "t30"
      ) AS "t31"
      UNION ALL
      SELECT
        *
      FROM (
        SELECT
          "t25"."org_id",
          "t25"."month",
          COALESCE("t25"."family", 'unknown') AS "plan_family",
          "t25"."payment_type",
          0 AS "subscribers",
          0 AS "opening_subscribers",
          0 AS "gross_adds",
          0 AS "port_outs",
          0 AS "terminations",
          "t25"."revenue_fen",
          "t25"."billed_lines",
          "t25"."data_mb",
          "t25"."voice_min",
          0 AS "lines_5g",
          0 AS "bundle_lines",
          0 AS "complaints"
        FROM (
          SELECT
            "t20"."org_id",
            "t20"."plan_id",
            "t20"."payment_type",
            "t20"."month",
            "t20"."revenue_fen",
            "t20"."billed_lines",
            "t20"."data_mb",
            "t20"."voice_min",
            "t11"."product_id",
            "t11"."family",
            "t11"."is_5g"
          FROM (
            SELECT
              "t16"."org_id",
              "t16"."plan_id",
              "t16"."payment_type",
              "t16"."month",
              SUM("t16"."arpu_fen") AS "revenue_fen",
              COUNT(*) AS "billed_lines",
              SUM("t16"."data_mb") AS "data_mb",
              SUM("t16"."voice_min") AS "voice_min"
            FROM (
              SELECT
                "t7"."org_id",
                "t7"."plan_id",
                "t7"."payment_type",
                "t6"."month",
                "t6"."arpu_fen",
                "t6"."data_mb",
                "t6"."voice_min"
              FROM "usage_monthly" AS "t6"
              INNER JOIN "subscribers" AS "t7"
                ON "t6"."subscriber_id" = "t7"."subscriber_id"
            ) AS "t16"
            GROUP BY
              1,
              2,
              3,
              4
          ) AS "t20"
          LEFT OUTER JOIN (
            SELECT
              "t0"."product_id",
              "t0"."family",
              "t0"."is_5g"
            FROM "products" AS "t0"
          ) AS "t11"
            ON "t20"."plan_id" = "t11"."product_id"
        ) AS "t25"
      ) AS "t28"
    ) AS "t32"
  ) AS "t33"
  GROUP BY
    1,
    2,
    3,
    4
) AS "t34"
WHERE
  (
    "t34"."subscribers" <> 0
  )
  OR (
    "t34"."opening_subscribers" <> 0
  )
  OR (
    "t34"."gross_adds" <> 0
  )
  OR (
    "t34"."port_outs" <> 0
  )
  OR (
    "t34"."terminations" <> 0
  )
  OR (
    "t34"."revenue_fen" <> 0
  )
  OR (
    "t34"."billed_lines" <> 0
  )
  OR (
    "t34"."data_mb" <> 0
  )
  OR (
    "t34"."voice_min" <> 0
  )
  OR (
    "t34"."lines_5g" <> 0
  )
  OR (
    "t34"."bundle_lines" <> 0
  )
  OR (
    "t34"."complaints" <> 0
  )
