"""KPI cube: additive measures by org unit × month × plan family × payment type."""
