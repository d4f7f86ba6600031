"""Marketing analysis: KPIs by org unit and month, drawn from the warehouse."""
