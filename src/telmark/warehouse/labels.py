"""Display labels of data-contract code values shown on more than one console page.

Keys are the contract's allowed values (``warehouse.contract``); values are
English msgids, translated where they are displayed.
"""

from __future__ import annotations

from telmark.translation import N_

PRODUCT_KIND_LABELS = {
    "plan": N_("Plan"),
    "bundle": N_("Converged bundle"),
    "addon": N_("Add-on pack"),
    "broadband": N_("Broadband"),
    "iptv": N_("IPTV"),
    "handset_contract": N_("Handset contract"),
}

INDUSTRY_LABELS = {
    "government": N_("Government"),
    "education": N_("Education"),
    "healthcare": N_("Healthcare"),
    "finance": N_("Finance"),
    "manufacturing": N_("Manufacturing"),
    "retail": N_("Retail"),
    "logistics": N_("Logistics"),
    "it_services": N_("IT services"),
    "hospitality": N_("Hospitality"),
    "agriculture": N_("Agriculture"),
}
