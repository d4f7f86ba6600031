SELECT
  *
FROM (
  SELECT
    "t8"."unit_id",
    "t8"."month",
    SUM("t8"."subscribers") AS "subscribers",
    SUM("t8"."opening_subscribers") AS "opening_subscribers",
    SUM("t8"."gross_adds") AS "gross_adds",
    SUM("t8"."port_outs") AS "port_outs",
    SUM("t8"."terminations") AS "terminations",
    SUM("t8"."revenue_fen") AS "revenue_fen",
    SUM("t8"."billed_lines") AS "billed_lines",
    SUM("t8"."data_mb") AS "data_mb",
    SUM("t8"."voice_min") AS "voice_min",
    SUM("t8"."lines_5g") AS "lines_5g",
    SUM("t8"."bundle_lines") AS "bundle_lines",
    SUM("t8"."complaints") AS "complaints"
  FROM (
    SELECT
      "t2"."org_id",
      "t2"."month",
      "t2"."plan_family",
      "t2"."payment_type",
      "t2"."subscribers",
      "t2"."opening_subscribers",
      "t2"."gross_adds",
      "t2"."port_outs",
      "t2"."terminations",
      "t2"."revenue_fen",
      "t2"."billed_lines",
      "t2"."data_mb",
      "t2"."voice_min",
      "t2"."lines_5g",
      "t2"."bundle_lines",
      "t2"."complaints",
      "t2"."built_at",
      "t7"."unit_id"
    FROM "kpi_cube" AS "t2"
    INNER JOIN (
      SELECT
        "t3"."ancestor_id" AS "unit_id",
        "t3"."descendant_id" AS "org_id"
      FROM "org_closure" AS "t3"
      INNER JOIN (
        SELECT
          "t1"."descendant_id" AS "child_id"
        FROM "org_closure" AS "t1"
        WHERE
          "t1"."ancestor_id" = 'P' AND "t1"."depth" = 1
      ) AS "t5"
        ON "t3"."ancestor_id" = "t5"."child_id"
    ) AS "t7"
      ON "t2"."org_id" = "t7"."org_id"
  ) AS "t8"
  GROUP BY
    1,
    2
) AS "t9"
ORDER BY
  "t9"."unit_id" ASC,
  "t9"."month" ASC
