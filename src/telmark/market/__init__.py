"""Market inputs: competitor offers and market share by city, shown beside own KPIs."""
