WITH "t13" AS (
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
    "t28"."city_id",
    "t4"."name" AS "city_name",
    "t4"."name_en" AS "city_name_en",
    "t28"."month",
    "t28"."subscribers",
    "t28"."opening_subscribers",
    COALESCE("t23"."port_outs", 0) AS "port_outs",
    COALESCE("t26"."revenue_fen", 0) AS "revenue_fen",
    COALESCE("t26"."billed_lines", 0) AS "billed_lines"
  FROM (
    SELECT
      "t22"."city_id",
      "t22"."month",
      SUM(
        CASE
          WHEN (
            "t22"."join_month" <= "t22"."month"
          )
          AND (
            (
              "t22"."exit_month" IS NULL
            ) OR (
              "t22"."exit_month" > "t22"."month"
            )
          )
          THEN "t22"."lines"
          ELSE 0
        END
      ) AS "subscribers",
      SUM(
        CASE
          WHEN (
            "t22"."join_month" < "t22"."month"
          )
          AND (
            (
              "t22"."exit_month" IS NULL
            ) OR (
              "t22"."exit_month" >= "t22"."month"
            )
          )
          THEN "t22"."lines"
          ELSE 0
        END
      ) AS "opening_subscribers"
    FROM (
      SELECT
        "t20"."city_id",
        "t20"."join_month",
        "t20"."exit_month",
        "t20"."lines",
        "t12"."month"
      FROM (
        SELECT
          "t15"."city_id",
          DATE_TRUNC('MONTH', "t15"."join_date") AS "join_month",
          CASE
            WHEN "t15"."status" IN ('ported_out', 'terminated')
            THEN DATE_TRUNC('MONTH', "t15"."status_date")
            ELSE NULL
          END AS "exit_month",
          COUNT(*) AS "lines"
        FROM "t13" AS "t15"
        GROUP BY
          1,
          2,
          3
      ) AS "t20"
      CROSS JOIN (
        SELECT DISTINCT
          "t1"."month"
        FROM "usage_monthly" AS "t1"
        ORDER BY
          "t1"."month" DESC
        LIMIT 6
      ) AS "t12"
    ) AS "t22"
    GROUP BY
      1,
      2
  ) AS "t28"
  LEFT OUTER JOIN (
    SELECT
      "t17"."city_id",
      DATE_TRUNC('MONTH', "t17"."port_out_date") AS "month",
      COUNT(*) AS "port_outs"
    FROM (
      SELECT
        *
      FROM "t13" AS "t15"
      WHERE
        "t15"."port_out_date" IS NOT NULL
    ) AS "t17"
    GROUP BY
      1,
      2
  ) AS "t23"
    ON "t28"."city_id" = "t23"."city_id" AND "t28"."month" = "t23"."month"
  LEFT OUTER JOIN (
    SELECT
      "t24"."city_id",
      "t24"."month",
      SUM("t24"."revenue_fen") AS "revenue_fen",
      SUM("t24"."billed_lines") AS "billed_lines"
    FROM (
      SELECT
        COALESCE("t11"."city_id", '-') AS "city_id",
        "t18"."month",
        "t18"."revenue_fen",
        "t18"."billed_lines"
      FROM (
        SELECT
          "t14"."org_id",
          "t14"."month",
          SUM("t14"."arpu_fen") AS "revenue_fen",
          COUNT(*) AS "billed_lines"
        FROM (
          SELECT
            "t7"."org_id",
            "t5"."month",
            "t5"."arpu_fen"
          FROM "usage_monthly" AS "t5"
          SEMI JOIN (
            SELECT DISTINCT
              "t1"."month"
            FROM "usage_monthly" AS "t1"
            ORDER BY
              "t1"."month" DESC
            LIMIT 6
          ) AS "t12"
            ON "t5"."month" = "t12"."month"
          INNER JOIN "subscribers" AS "t7"
            ON "t5"."subscriber_id" = "t7"."subscriber_id"
        ) AS "t14"
        GROUP BY
          1,
          2
      ) AS "t18"
      LEFT OUTER JOIN (
        SELECT
          "t3"."descendant_id" AS "org_id",
          "t3"."ancestor_id" AS "city_id"
        FROM "org_closure" AS "t3"
        WHERE
          "t3"."ancestor_kind" = 'city'
      ) AS "t11"
        ON "t18"."org_id" = "t11"."org_id"
    ) AS "t24"
    GROUP BY
      1,
      2
  ) AS "t26"
    ON "t28"."city_id" = "t26"."city_id" AND "t28"."month" = "t26"."month"
  LEFT OUTER JOIN "org_units" AS "t4"
    ON "t28"."city_id" = "t4"."org_id"
) AS "t29"
ORDER BY
  "t29"."city_id" ASC,
  "t29"."month" ASC
