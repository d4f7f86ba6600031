"""Responses: order events from BOSS or the API, attributed last-touch to the contacts of cases."""
