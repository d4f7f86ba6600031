WITH "t14" AS (
  SELECT
    "t6"."subscriber_id",
    COALESCE("t11"."city_id", '-') AS "city_id",
    "t6"."join_date",
    "t6"."status",
    "t6"."status_date",
    "t6"."port_out_date"
  FROM "subscribers" AS "t6"
  LEFT OUTER JOIN (
    SELECT
      "t3"."descendant_id" AS "org_id",
      "t3"."ancestor_id" AS "city_id"
    FROM "org_closure" AS "t3"
    WHERE
      "t3"."ancestor_kind" = 'city'
  ) AS "t11"
    ON "t6"."org_id" = "t11"."org_id"
)
SELECT
  *
FROM (
  SELECT
    "t27"."city_id",
    "t4"."name" AS "city_name",
    "t4"."name_en" AS "city_name_en",
    "t27"."month",
    "t27"."subscribers",
    "t27"."opening_subscribers",
    COALESCE("t24"."port_outs", 0) AS "port_outs",
    COALESCE("t25"."revenue_fen", 0) AS "revenue_fen",
    COALESCE("t25"."billed_lines", 0) AS "billed_lines"
  FROM (
    SELECT
      "t23"."city_id",
      "t23"."month",
      SUM(
        CASE
          WHEN (
            "t23"."join_month" <= "t23"."month"
          )
          AND (
            (
              "t23"."exit_month" IS NULL
            ) OR (
              "t23"."exit_month" > "t23"."month"
            )
          )
          THEN "t23"."lines"
          ELSE 0
        END
      ) AS "subscribers",
      SUM(
        CASE
          WHEN (
            "t23"."join_month" < "t23"."month"
          )
          AND (
            (
              "t23"."exit_month" IS NULL
            ) OR (
              "t23"."exit_month" >= "t23"."month"
            )
          )
          THEN "t23"."lines"
          ELSE 0
        END
      ) AS "opening_subscribers"
    FROM (
      SELECT
        "t20"."city_id",
        "t20"."join_month",
        "t20"."exit_month",
        "t20"."lines",
        "t9"."month"
      FROM (
        SELECT
          "t16"."city_id",
          DATE_TRUNC('MONTH', "t16"."join_date") AS "join_month",
          CASE
            WHEN "t16"."status" IN ('ported_out', 'terminated')
            THEN DATE_TRUNC('MONTH', "t16"."status_date")
            ELSE NULL
          END AS "exit_month",
          COUNT(*) AS "lines"
        FROM "t14" AS "t16"
        GROUP BY
          1,
          2,
          3
      ) AS "t20"
      CROSS JOIN (
        SELECT DISTINCT
          "t1"."month"
        FROM "usage_monthly" AS "t1"
      ) AS "t9"
    ) AS "t23"
    GROUP BY
      1,
      2
  ) AS "t27"
  LEFT OUTER JOIN (
    SELECT
      "t17"."city_id",
      DATE_TRUNC('MONTH', "t17"."port_out_date") AS "month",
      COUNT(*) AS "port_outs"
    FROM (
      SELECT
        *
      FROM "t14" AS "t16"
      WHERE
        "t16"."port_out_date" IS NOT NULL
    ) AS "t17"
    GROUP BY
      1,
      2
  ) AS "t24"
    ON "t27"."city_id" = "t24"."city_id" AND "t27"."month" = "t24"."month"
  LEFT OUTER JOIN (
    SELECT
      "t18"."city_id",
      "t18"."month",
      SUM("t18"."revenue_fen") AS "revenue_fen",
      SUM("t18"."billed_lines") AS "billed_lines"
    FROM (
      SELECT
        COALESCE("t11"."city_id", '-') AS "city_id",
        "t15"."month",
        "t15"."revenue_fen",
        "t15"."billed_lines"
      FROM (
        SELECT
          "t12"."org_id",
          "t12"."month",
          SUM("t12"."arpu_fen") AS "revenue_fen",
          COUNT(*) AS "billed_lines"
        FROM (
          SELECT
            "t7"."org_id",
            "t5"."month",
            "t5"."arpu_fen"
          FROM "usage_monthly" AS "t5"
          INNER JOIN "subscribers" AS "t7"
            ON "t5"."subscriber_id" = "t7"."subscriber_id"
        ) AS "t12"
        GROUP BY
          1,
          2
      ) AS "t15"
      LEFT OUTER JOIN (
        SELECT
          "t3"."descendant_id" AS "org_id",
          "t3"."ancestor_id" AS "city_id"
        FROM "org_closure" AS "t3"
        WHERE
          "t3"."ancestor_kind" = 'city'
      ) AS "t11"
        ON "t15"."org_id" = "t11"."org_id"
    ) AS "t18"
    GROUP BY
      1,
      2
  ) AS "t25"
    ON "t27"."city_id" = "t25"."city_id" AND "t27"."month" = "t25"."month"
  LEFT OUTER JOIN "org_units" AS "t4"
    ON "t27"."city_id" = "t4"."org_id"
) AS "t28"
ORDER BY
  "t28"."city_id" ASC,
  "t28"."month" ASC
