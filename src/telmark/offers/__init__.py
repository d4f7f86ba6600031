"""Offers: the offer book, the nine marketing tools, stock/budget pools and draws."""
