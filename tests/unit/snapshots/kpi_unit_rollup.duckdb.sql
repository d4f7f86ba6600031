SELECT
  *
FROM (
  SELECT
    "t5"."month",
    SUM("t5"."subscribers") AS "subscribers",
    SUM("t5"."opening_subscribers") AS "opening_subscribers",
    SUM("t5"."gross_adds") AS "gross_adds",
    SUM("t5"."port_outs") AS "port_outs",
    SUM("t5"."terminations") AS "terminations",
    SUM("t5"."revenue_fen") AS "revenue_fen",
    SUM("t5"."billed_lines") AS "billed_lines",
    SUM("t5"."data_mb") AS "data_mb",
    SUM("t5"."voice_min") AS "voice_min",
    SUM("t5"."lines_5g") AS "lines_5g",
    SUM("t5"."bundle_lines") AS "bundle_lines",
    SUM("t5"."complaints") AS "complaints"
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
      "t2"."built_at"
    FROM "kpi_cube" AS "t2"
    SEMI JOIN (
      SELECT
        "t1"."descendant_id" AS "org_id"
      FROM "org_closure" AS "t1"
      WHERE
        "t1"."ancestor_id" = 'C1'
    ) AS "t4"
      ON "t2"."org_id" = "t4"."org_id"
  ) AS "t5"
  GROUP BY
    1
) AS "t6"
ORDER BY
  "t6"."month" ASC
