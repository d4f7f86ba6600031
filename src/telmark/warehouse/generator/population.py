"""Who the subscribers of one chunk are: latent traits, demographics, home, plan,
handset, contract, household and enterprise membership.

Seven latent traits (standard-normal scores) drive everything observable and
the hidden response model alike, so a model trained on the observable data can
recover part of the truth:

value      spend level: plan fee, handset brand, roaming, membership uplift
appetite   data hunger: DOU, top-up packs
price      price sensitivity: prepaid, plan misfit churn, red-packet uplift
loyalty    tenure, renewals; lowers churn hazard
digital    app/WeChat channels, youth; co-brand and red-packet uplift
social     households, referrals; bundle and referral uplift
aversion   dislike of being marketed to: marketing complaints; "sleeping dogs"
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from telmark.warehouse.generator.arrays import BoolArray, FloatArray, IntArray, day_number
from telmark.warehouse.generator.catalog import Catalog, nearest_in_ladder
from telmark.warehouse.generator.names import HANDSET_BRANDS
from telmark.warehouse.generator.org import Org, pick
from telmark.warehouse.generator.window import Window

NEW_LINES_PER_MONTH = 0.011  # share of the chunk that joins in each generated month
INDUSTRY_WEIGHTS = (0.08, 0.08, 0.06, 0.06, 0.2, 0.16, 0.1, 0.12, 0.08, 0.06)
BRAND_APPLE, BRAND_HUAWEI, BRAND_OTHER = 0, 1, 7
# Share of handsets bought on a date that support 5G (China's shipments).
_FIVE_G_CURVE_DAYS = np.array(
    [
        day_number(d)
        for d in (
            date(2019, 10, 1),
            date(2020, 6, 30),
            date(2020, 12, 31),
            date(2021, 12, 31),
            date(2022, 12, 31),
            date(2024, 6, 30),
        )
    ],
    dtype=np.float64,
)
_FIVE_G_CURVE_SHARE = np.array([0.0, 0.25, 0.5, 0.7, 0.8, 0.85])
_IPHONE_12_DAY = day_number(date(2020, 10, 23))  # Apple's first 5G handset


def sigmoid(x: FloatArray | float) -> FloatArray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


@dataclass(slots=True)
class Households:
    primary: IntArray  # member index of the primary line
    bundle: IntArray  # product index of the converged bundle, or -1
    has_broadband: BoolArray
    has_iptv: BoolArray
    mbps: IntArray
    created: IntArray
    broadband_product: IntArray  # standalone broadband product, or -1
    iptv_product: IntArray  # separately subscribed IPTV product, or -1
    addon_start: IntArray


@dataclass(slots=True)
class Accounts:
    first: IntArray  # member index of the first line
    tier: IntArray  # 0 = A, 1 = B, 2 = C
    industry: IntArray
    centre: IntArray  # 0 = province centre, 1 + c = centre of city c
    manager: IntArray  # staff index
    created: IntArray
    trade_name: IntArray
    city: IntArray


@dataclass(slots=True)
class Population:
    sid: IntArray
    value: FloatArray
    appetite: FloatArray
    price: FloatArray
    loyalty: FloatArray
    digital: FloatArray
    social: FloatArray
    aversion: FloatArray
    age: IntArray
    birth_days: IntArray
    female: BoolArray
    city: IntArray
    district: IntArray
    outlet: IntArray
    grid: IntArray
    prepaid: BoolArray
    household: IntArray  # -1 if none
    hh_primary: BoolArray
    account: IntArray  # -1 if none
    join: IntArray
    plan: IntArray
    plan_start: IntArray
    discount: FloatArray  # multiplier on the plan fee (retention offers, group rates)
    contract: IntArray  # handset-contract product, or -1
    contract_start: IntArray
    contract_end: IntArray  # day number, or -1
    brand: IntArray
    handset_5g: BoolArray
    handset_day: IntArray
    pack: IntArray  # recurring add-on pack, or -1
    pack_start: IntArray
    households: Households
    accounts: Accounts

    @property
    def n(self) -> int:
        return len(self.sid)


def _groups(sizes: IntArray, m: int) -> tuple[IntArray, IntArray]:
    """Cut m consecutive items into groups of the given sizes: (group of item, first item)."""
    ends = np.cumsum(sizes)
    k = int(np.searchsorted(ends, m)) + 1 if m else 0
    counts = sizes[:k].copy()
    if k:
        counts[-1] -= int(ends[k - 1]) - m
    group = np.repeat(np.arange(k), counts)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64) if k else group
    return group.astype(np.int64), first


def _copy_home(pop_arrays: list[IntArray], members: IntArray, leaders: IntArray) -> None:
    for values in pop_arrays:
        values[members] = values[leaders]


def draw_population(
    rng: np.random.Generator, *, first_id: int, n: int, org: Org, catalog: Catalog, window: Window
) -> Population:
    """Draw ``n`` subscribers with ids ``first_id`` … ``first_id + n - 1``."""
    first_day, data_date = window.first_day, window.data_date
    z = rng.standard_normal((7, n))
    age = np.clip(np.round(rng.normal(41, 14, n)), 16, 85).astype(np.int64)
    youth = -(age - 41) / 14
    value = z[0]
    digital = 0.75 * z[1] + 0.55 * youth
    appetite = 0.7 * z[2] + 0.45 * digital
    price = 0.85 * z[3] - 0.4 * value
    loyalty = 0.85 * z[4] - 0.3 * youth
    social = z[5]
    aversion = z[6]
    female = rng.random(n) < 0.49
    birth_days = (data_date - age * 365.25 - rng.random(n) * 364).astype(np.int64)

    city = np.minimum(np.searchsorted(np.cumsum(org.city_weight), rng.random(n)), 12)
    district = pick(rng, org.city_first_district, org.city_district_count, city)
    outlet = pick(rng, org.district_outlet_start, org.district_outlet_count, district)
    grid = pick(rng, org.district_grid_start, org.district_grid_count, district)

    new_line = rng.random(n) < min(0.5, NEW_LINES_PER_MONTH * window.months)
    tenure_years = np.minimum(rng.exponential(5.5 * np.exp(0.35 * loyalty)), 24.0)
    tenure_years = np.minimum(tenure_years, np.maximum(age - 16, 0) + 0.5)
    join = np.where(
        new_line,
        first_day + (rng.random(n) * (data_date - first_day + 1)).astype(np.int64),
        first_day - 1 - (tenure_years * 365.25).astype(np.int64),
    )
    young_or_old = (age < 23) | (age > 65)
    prepaid = rng.random(n) < sigmoid(-1.25 + 0.9 * price - 0.5 * value + 0.6 * young_or_old)

    # Households: postpaid lines grouped into families of 1-4 sharing one home.
    in_household = ~prepaid & (rng.random(n) < sigmoid(-1.3 + 0.8 * social + 0.015 * (age - 40)))
    members = np.flatnonzero(in_household)
    sizes = rng.choice(np.array([1, 2, 3, 4]), size=len(members), p=[0.3, 0.35, 0.22, 0.13])
    hh_of_member, hh_first = _groups(sizes.astype(np.int64), len(members))
    household = np.full(n, -1, dtype=np.int64)
    household[members] = hh_of_member
    hh_primary_idx = members[hh_first]
    _copy_home([city, district, outlet, grid], members, hh_primary_idx[hh_of_member])
    hh_primary = np.zeros(n, dtype=np.bool_)
    hh_primary[hh_primary_idx] = True

    # Enterprise accounts: the remaining postpaid lines, in accounts of tier A/B/C.
    in_account = ~prepaid & ~in_household & (rng.random(n) < 0.11)
    lines = np.flatnonzero(in_account)
    tiers = rng.choice(3, size=len(lines) + 1, p=[0.04, 0.2, 0.76])
    low = np.array([60.0, 12.0, 2.0])[tiers]
    high = np.array([300.0, 60.0, 12.0])[tiers]
    account_sizes = np.exp(rng.uniform(np.log(low), np.log(high))).astype(np.int64)
    acc_of_line, acc_first = _groups(account_sizes, len(lines))
    account = np.full(n, -1, dtype=np.int64)
    account[lines] = acc_of_line
    acc_first_idx = lines[acc_first]
    _copy_home([city, district, outlet, grid], lines, acc_first_idx[acc_of_line])
    n_accounts = len(acc_first_idx)
    acc_tier = tiers[:n_accounts].astype(np.int64)
    acc_city = city[acc_first_idx]
    acc_centre = np.where(acc_tier == 0, 0, 1 + acc_city)
    acc_manager = pick(rng, org.centre_manager_start, org.centre_manager_count, acc_centre)
    first_join = (
        np.minimum.reduceat(join[lines], acc_first) if n_accounts else np.zeros(0, np.int64)
    )
    acc_created = first_join - (rng.random(n_accounts) * 3 * 365).astype(np.int64)

    # Handsets: brand by value, youth and age; age of device; 5G by purchase date.
    base = np.log(np.array([w for _, w in HANDSET_BRANDS]))
    logits = np.tile(base, (n, 1))
    logits[:, BRAND_APPLE] += 0.8 * value + 0.4 * digital
    logits[:, BRAND_HUAWEI] += 0.3 * value + 0.2 * (age - 41) / 14
    logits[:, 2:4] -= 0.2 * value[:, None]
    logits[:, 4] += 0.3 * digital
    logits[:, BRAND_OTHER] += -0.6 * value + 0.3 * (age - 41) / 14
    cdf = np.cumsum(np.exp(logits), axis=1)
    brand = (rng.random(n)[:, None] * cdf[:, -1:] > cdf).sum(axis=1).astype(np.int64)

    eligible_contract = ~prepaid & ~in_account
    flagship = (brand == BRAND_APPLE) | (brand == BRAND_HUAWEI)
    has_contract = eligible_contract & (
        rng.random(n) < sigmoid(-0.9 + 0.5 * value + 0.5 * flagship)
    )
    long_contract = rng.random(n) < 0.6
    contract = np.where(
        long_contract,
        np.where(
            flagship & (value > 0), catalog.handset_contracts[2], catalog.handset_contracts[1]
        ),
        catalog.handset_contracts[0],
    )
    length_days = (catalog.contract_months[contract] * 30.44).astype(np.int64)
    contract_end = first_day - 150 + (rng.random(n) * (150 + length_days)).astype(np.int64)
    contract_start = contract_end - length_days
    late = contract_start < join
    contract_start = np.where(late, join, contract_start)
    contract_end = np.where(late, join + length_days, contract_end)
    contract = np.where(has_contract, contract, -1)
    contract_end = np.where(has_contract, contract_end, -1)

    device_age = np.minimum(rng.exponential(1_000 * np.exp(-0.25 * value)), 3_000).astype(np.int64)
    handset_day = np.where(has_contract, contract_start, np.maximum(data_date - device_age, join))
    five_g_share = np.interp(handset_day, _FIVE_G_CURVE_DAYS, _FIVE_G_CURVE_SHARE)
    five_g_share = np.where(
        brand == BRAND_APPLE, 0.97 * (handset_day >= _IPHONE_12_DAY), five_g_share
    )
    five_g_share = np.where(brand == BRAND_OTHER, 0.5 * five_g_share, five_g_share)
    handset_5g = rng.random(n) < five_g_share

    plan = _choose_plans(
        rng,
        catalog=catalog,
        value=value,
        appetite=appetite,
        digital=digital,
        age=age,
        prepaid=prepaid,
        handset_5g=handset_5g,
    )
    legacy = (
        ~prepaid
        & ~in_household
        & ~in_account
        & (join < catalog.retire[catalog.legacy[0]])
        & (rng.random(n) < 0.06)
    )
    plan = np.where(legacy, catalog.legacy[0], plan)
    plan[lines] = nearest_in_ladder(
        catalog.enterprise, catalog.fee, np.exp(np.log(6_000) + 0.5 * value[lines])
    )

    # Household products: most primaries hold a converged bundle; the rest
    # have standalone broadband. Secondary lines take a family card.
    n_households = len(hh_primary_idx)
    hh_size = np.bincount(hh_of_member, minlength=n_households)
    has_bundle = rng.random(n_households) < 0.8
    pv = value[hh_primary_idx]
    bundle = nearest_in_ladder(
        catalog.bundles, catalog.fee, np.exp(np.log(11_000) + 0.4 * pv + 0.1 * hh_size)
    )
    bundle = np.where(has_bundle, bundle, -1)
    secondary = members[~hh_primary[members]]
    plan[secondary] = np.where(
        rng.random(len(secondary)) < 0.7, catalog.secondary[0], catalog.secondary[1]
    )
    with_bundle = hh_primary_idx[has_bundle]
    plan[with_bundle] = bundle[has_bundle]
    bb_choice = catalog.broadband[np.clip((pv > -0.5).astype(np.int64) + (pv > 1), 0, 2)]
    broadband_product = np.where(has_bundle, -1, bb_choice)
    mbps = np.where(
        has_bundle, catalog.broadband_mbps[np.maximum(bundle, 0)], catalog.broadband_mbps[bb_choice]
    )
    bundle_iptv = has_bundle & catalog.includes_iptv[np.maximum(bundle, 0)]
    extra_iptv = ~bundle_iptv & (rng.random(n_households) < np.where(has_bundle, 0.2, 0.35))
    iptv_product = np.where(extra_iptv, np.where(pv > 0.5, catalog.iptv[1], catalog.iptv[0]), -1)
    hh_created = (
        np.minimum.reduceat(join[members], hh_first) if n_households else np.zeros(0, np.int64)
    )
    no_product = np.int64(-(1 << 40))  # launched "forever ago": never delays the start
    addon_launch = np.maximum(
        np.where(broadband_product >= 0, catalog.launch[broadband_product], no_product),
        np.where(iptv_product >= 0, catalog.launch[iptv_product], no_product),
    )
    # Home services hang off the primary line, so they start once it has joined.
    addon_start = np.maximum(
        np.maximum(hh_created, join[hh_primary_idx]),
        addon_launch + (rng.random(n_households) * 200).astype(np.int64),
    )
    addon_start = np.minimum(addon_start, data_date)

    launch = catalog.launch[plan]
    plan_start = np.where(
        join >= launch,
        join,
        launch + (rng.random(n) * np.maximum(first_day - launch, 1)).astype(np.int64),
    )
    regular = ~prepaid & ~in_household & ~in_account
    discount = np.where(regular & (rng.random(n) < 0.35), rng.uniform(0.6, 0.9, n), 1.0)
    discount = np.where(in_account, 0.85, discount)

    has_pack = rng.random(n) < 0.12
    pack_choice = catalog.recurring_packs[rng.choice(4, size=n, p=[0.45, 0.25, 0.2, 0.1])]
    # The 5G booster is postpaid only; prepaid lines take the video pack instead.
    pack_choice = np.where(
        prepaid & (pack_choice == catalog.recurring_packs[1]),
        catalog.recurring_packs[0],
        pack_choice,
    )
    pack = np.where(has_pack, pack_choice, -1)
    pack_start = np.maximum(join, first_day - (rng.random(n) * 700).astype(np.int64))
    pack_start = np.maximum(pack_start, catalog.launch[pack_choice] + 30)
    pack_start = np.minimum(pack_start, data_date)

    return Population(
        sid=np.arange(first_id, first_id + n, dtype=np.int64),
        value=value,
        appetite=appetite,
        price=price,
        loyalty=loyalty,
        digital=digital,
        social=social,
        aversion=aversion,
        age=age,
        birth_days=birth_days,
        female=female,
        city=city,
        district=district,
        outlet=outlet,
        grid=grid,
        prepaid=prepaid,
        household=household,
        hh_primary=hh_primary,
        account=account,
        join=join,
        plan=plan,
        plan_start=plan_start,
        discount=discount,
        contract=contract,
        contract_start=contract_start,
        contract_end=contract_end,
        brand=brand,
        handset_5g=handset_5g,
        handset_day=handset_day,
        pack=pack,
        pack_start=pack_start,
        households=Households(
            primary=hh_primary_idx,
            bundle=bundle,
            has_broadband=np.ones(n_households, np.bool_),
            has_iptv=bundle_iptv | extra_iptv,
            mbps=mbps,
            created=hh_created,
            broadband_product=broadband_product,
            iptv_product=iptv_product,
            addon_start=addon_start,
        ),
        accounts=Accounts(
            first=acc_first_idx,
            tier=acc_tier,
            industry=rng.choice(len(INDUSTRY_WEIGHTS), size=n_accounts, p=INDUSTRY_WEIGHTS),
            centre=acc_centre,
            manager=acc_manager,
            created=acc_created,
            trade_name=rng.integers(0, 1 << 30, n_accounts),
            city=acc_city,
        ),
    )


def _choose_plans(
    rng: np.random.Generator,
    *,
    catalog: Catalog,
    value: FloatArray,
    appetite: FloatArray,
    digital: FloatArray,
    age: IntArray,
    prepaid: BoolArray,
    handset_5g: BoolArray,
) -> IntArray:
    """Main plan of a regular line: 5G or 4G ladder, then the fee nearest a target spend."""
    n = len(value)
    noise = rng.normal(0, 0.25, n)
    post_5g = rng.random(n) < sigmoid(
        -0.9 + 0.8 * value + 0.5 * digital + 1.8 * handset_5g - 0.02 * (age - 40)
    )
    pre_5g = handset_5g & (rng.random(n) < sigmoid(-1.0 + 0.6 * digital + 0.5 * value))
    target_post = np.exp(
        np.where(post_5g, np.log(4_500), np.log(2_800)) + 0.4 * value + 0.45 * appetite + noise
    )
    target_pre = np.exp(np.log(1_900) + 0.4 * value + 0.45 * appetite + noise)
    return np.where(
        prepaid,
        np.where(
            pre_5g,
            nearest_in_ladder(catalog.pre_5g, catalog.fee, target_pre),
            nearest_in_ladder(catalog.pre_4g, catalog.fee, target_pre),
        ),
        np.where(
            post_5g,
            nearest_in_ladder(catalog.post_5g, catalog.fee, target_post),
            nearest_in_ladder(catalog.post_4g, catalog.fee, target_post),
        ),
    )
