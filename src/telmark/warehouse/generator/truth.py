"""The hidden response model: each subscriber's propensity and true uplift per offer.

Every term is a function of the latent traits and of observables the same
traits produced (age, tenure, handset age, contract end, household bundle), so
an uplift model trained on campaign outcomes can learn part of it. Lines with a
strong aversion to marketing are "sleeping dogs": contacting them lowers their
take-up, whatever the offer. Formulas are documented in docs/generator.md.
"""

from __future__ import annotations

import numpy as np

from telmark.warehouse.contract import OFFER_TYPES
from telmark.warehouse.generator.arrays import FloatArray
from telmark.warehouse.generator.catalog import Catalog
from telmark.warehouse.generator.population import Population, sigmoid
from telmark.warehouse.generator.window import Window


def response_truth(*, pop: Population, catalog: Catalog, window: Window) -> dict[str, FloatArray]:
    """``base_propensity`` and ``uplift_<offer>`` for every subscriber of the chunk."""
    d, p, v, s, q, loyalty = (
        pop.digital,
        pop.price,
        pop.value,
        pop.social,
        pop.aversion,
        pop.loyalty,
    )
    age = pop.age.astype(np.float64)
    data_date = window.data_date
    tenure = (data_date - pop.join) / 365.25
    handset_age = (data_date - pop.handset_day) / 365.25
    ce = pop.contract_end
    contract_ending = (ce >= data_date - 30) & (ce <= data_date + 92)
    has_bundle = np.isin(pop.plan, catalog.bundles) | (pop.household >= 0)

    base = sigmoid(-3.3 + 0.35 * d + 0.3 * p + 0.2 * s - 0.25 * q + 0.15 * v)
    positive: dict[str, FloatArray] = {
        "gift": 0.010 + 0.020 * sigmoid(1.5 * (age - 50) / 10) + 0.010 * sigmoid(-v),
        "points": 0.005 + 0.030 * sigmoid(loyalty + tenure / 5 - 1),
        "subsidy": 0.005
        + 0.060 * sigmoid(1.2 * (handset_age - 2.5)) * np.where(pop.handset_5g, 0.6, 1.2)
        + 0.020 * contract_ending,
        "red_packet": 0.005 + 0.050 * sigmoid(1.5 * p + 0.8 * d - 1),
        "membership": 0.004 + 0.035 * sigmoid(1.2 * v + 0.5 * loyalty - 0.8),
        "co_brand": 0.003 + 0.030 * sigmoid(1.2 * d - (age - 35) / 12),
        "lottery": 0.002 + 0.020 * sigmoid(0.8 * p + 0.6 * d - (age - 30) / 15),
        "bundle": 0.004 + 0.050 * sigmoid(1.2 * s - 0.5) * np.where(has_bundle, 0.3, 1.0),
        "referral": 0.003 + 0.040 * sigmoid(1.5 * s + 0.5 * d - 1),
    }
    assert tuple(positive) == OFFER_TYPES
    dog = sigmoid(3 * (q - 1.3))
    harm = dog * (0.02 + 0.03 * sigmoid(-loyalty))
    result: dict[str, FloatArray] = {"base_propensity": base}
    for offer, gain in positive.items():
        result[f"uplift_{offer}"] = np.clip(gain * (1 - dog) - harm, -base, 1 - base)
    return result
