"""The organisation: province → city → district → outlet/grid, key-account centres,
staff in 3 levels × 10 grades, and social-channel agents.

Its size follows the subscriber count (about one outlet per 25,000 lines and
three grids per outlet). Units of one kind are numbered contiguously per
district so that a chunk worker picks "a random outlet of district d" with one
vectorised draw from ``start[d] + floor(u * count[d])``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from telmark.warehouse.generator import arrays as ar
from telmark.warehouse.generator.arrays import FloatArray, IntArray
from telmark.warehouse.generator.names import (
    AGENT_SHOP_PREFIXES,
    AGENT_SHOP_WORDS,
    CITIES,
    PROVINCE_CODE,
    PROVINCE_NAME,
    PROVINCE_NAME_EN,
    ROADS,
)
from telmark.warehouse.generator.people import person_names

SUBSCRIBERS_PER_OUTLET = 25_000
GRIDS_PER_OUTLET = 3
ENTERPRISE_LINE_SHARE = 0.06  # expected share of lines that are enterprise members
LINES_PER_ACCOUNT = 20
ACCOUNTS_PER_MANAGER = 100
PROVINCE_CENTRE_SHARE = 0.05  # tier-A accounts are served by the province centre
AGENT_TYPES = ("franchise", "retail", "online", "rural")


@dataclass(frozen=True, slots=True)
class Org:
    org_units: dict[str, pa.Array]
    staff: dict[str, pa.Array]
    agents: dict[str, pa.Array]
    org_ids: pa.Array
    city_weight: FloatArray
    city_org: IntArray
    centre_org: IntArray  # index 0: province centre; 1 + c: centre of city c
    district_city: IntArray
    district_code: IntArray
    city_first_district: IntArray
    city_district_count: IntArray
    outlet_org: IntArray
    district_outlet_start: IntArray
    district_outlet_count: IntArray
    grid_org: IntArray
    grid_quality: FloatArray  # multiplies dropped calls; a few grids are poor
    district_grid_start: IntArray
    district_grid_count: IntArray
    staff_ids: pa.Array
    outlet_staff_start: IntArray  # front-line staff of each outlet, contiguous
    outlet_staff_count: IntArray
    centre_manager_start: IntArray  # account managers of each centre, contiguous
    centre_manager_count: IntArray
    agent_ids: pa.Array
    outlet_agent_start: IntArray
    outlet_agent_count: IntArray


class _Units:
    """Accumulates org_units rows; returns each unit's index."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.parent: list[int] = []
        self.kind: list[str] = []
        self.name: list[str] = []
        self.name_en: list[str] = []

    def add(self, org_id: str, parent: int, kind: str, name: str, name_en: str) -> int:
        self.ids.append(org_id)
        self.parent.append(parent)
        self.kind.append(kind)
        self.name.append(name)
        self.name_en.append(name_en)
        return len(self.ids) - 1


class _Staff:
    def __init__(self) -> None:
        self.org: list[int] = []
        self.level: list[int] = []
        self.grade: list[int] = []
        self.position: list[str] = []

    def add(self, org: int, level: int, grade: int, position: str, count: int = 1) -> int:
        first = len(self.org)
        for _ in range(count):
            self.org.append(org)
            self.level.append(level)
            self.grade.append(grade)
            self.position.append(position)
        return first


def build_org(rng: np.random.Generator, *, subscribers: int, data_date: int) -> Org:
    """The organisation tree, staff and agents sized for ``subscribers`` lines."""
    units = _Units()
    staff = _Staff()
    province = units.add(f"P{PROVINCE_CODE}", -1, "province", PROVINCE_NAME, PROVINCE_NAME_EN)
    population = np.array([c.population for c in CITIES], dtype=np.float64)
    city_weight = population / population.sum()
    lines_per_manager = LINES_PER_ACCOUNT * ACCOUNTS_PER_MANAGER / ENTERPRISE_LINE_SHARE
    province_centre = units.add(
        f"P{PROVINCE_CODE}K",
        province,
        "key_account_centre",
        f"{PROVINCE_NAME}政企客户中心",
        f"{PROVINCE_NAME_EN} key-account centre",
    )
    centre_org = [province_centre]
    manager_start, manager_count = [], []
    count = max(2, round(subscribers * PROVINCE_CENTRE_SHARE / lines_per_manager))
    manager_start.append(staff.add(province_centre, 1, 6, "account_manager", count))
    manager_count.append(count)
    for position, n in (("marketing_planner", 8), ("analyst", 6), ("approver", 4)):
        staff.add(province, 1, 7, position, n)

    city_org: list[int] = []
    district_city: list[int] = []
    district_code: list[int] = []
    city_first_district: list[int] = []
    outlet_org: list[int] = []
    outlet_start: list[int] = []
    outlet_count: list[int] = []
    grid_org: list[int] = []
    grid_start: list[int] = []
    grid_count: list[int] = []
    outlet_staff_start: list[int] = []
    outlet_staff_count: list[int] = []
    for c, city in enumerate(CITIES):
        code = f"C{c + 1:02d}"
        short = city.name.removesuffix("市")
        city_unit = units.add(code, province, "city", city.name, city.name_en)
        city_org.append(city_unit)
        centre = units.add(
            f"{code}K",
            city_unit,
            "key_account_centre",
            f"{city.name}政企客户中心",
            f"{city.name_en} key-account centre",
        )
        centre_org.append(centre)
        count = max(
            2,
            round(subscribers * city_weight[c] * (1 - PROVINCE_CENTRE_SHARE) / lines_per_manager),
        )
        manager_start.append(staff.add(centre, 2, 5, "account_manager", count))
        manager_count.append(count)
        for position, n in (
            ("city_marketing_manager", 2),
            ("analyst", 2),
            ("approver", 2),
            ("marketing_planner", 1),
        ):
            staff.add(city_unit, 2, 6, position, n)
        city_first_district.append(len(district_city))
        city_lines = subscribers * city_weight[c]
        for d, district in enumerate(city.districts):
            dcode = f"{code}D{d + 1:02d}"
            unit = units.add(
                dcode, city_unit, "district", district.name, f"{city.name_en} {district.name_en}"
            )
            staff.add(unit, 2, 4, "city_marketing_manager")
            district_city.append(c)
            district_code.append(district.code)
            outlets = max(2, round(city_lines / len(city.districts) / SUBSCRIBERS_PER_OUTLET))
            outlet_start.append(len(outlet_org))
            outlet_count.append(outlets)
            for k in range(outlets):
                road = ROADS[(d * 7 + k) % len(ROADS)]
                suffix = "" if k < len(ROADS) else str(k // len(ROADS) + 1)
                outlet = units.add(
                    f"{dcode}O{k + 1:03d}",
                    unit,
                    "outlet",
                    f"{short}{district.name}{road}{suffix}营业厅",
                    f"{city.name_en} {district.name_en} hall {k + 1}",
                )
                outlet_org.append(outlet)
                front = int(rng.integers(3, 9))
                outlet_staff_start.append(staff.add(outlet, 3, 5, "outlet_manager"))
                staff.add(outlet, 3, 2, "service_agent", front - front // 3)
                staff.add(outlet, 3, 3, "sales_rep", front // 3)
                outlet_staff_count.append(1 + front)
            grids = outlets * GRIDS_PER_OUTLET
            grid_start.append(len(grid_org))
            grid_count.append(grids)
            for k in range(grids):
                road = ROADS[(d * 11 + k) % len(ROADS)]
                grid = units.add(
                    f"{dcode}G{k + 1:03d}",
                    unit,
                    "grid",
                    f"{district.name}{road}网格{k + 1}",
                    f"{district.name_en} grid {k + 1}",
                )
                grid_org.append(grid)
                staff.add(grid, 3, 3, "grid_manager")

    parent = np.array(units.parent, dtype=np.int64)
    org_ids = ar.vocabulary(units.ids)
    org_units = {
        "org_id": org_ids,
        "parent_id": ar.take(org_ids, np.maximum(parent, 0), valid=parent >= 0),
        "kind": ar.vocabulary(units.kind),
        "name": ar.vocabulary(units.name),
        "name_en": ar.vocabulary(units.name_en),
    }

    n_staff = len(staff.org)
    staff_ids = ar.codes("S", np.arange(1, n_staff + 1, dtype=np.int64), 7)
    level = np.array(staff.level, dtype=np.int64)
    # Grades spread around each post's typical grade (1 junior … 10 senior).
    grade = np.clip(np.array(staff.grade) + rng.integers(-2, 4, n_staff), 1, 10)
    staff_table = {
        "staff_id": staff_ids,
        "name": person_names(rng, rng.random(n_staff) < 0.45),
        "org_id": ar.take(org_ids, np.array(staff.org)),
        "level": ar.ints(level),
        "grade": ar.ints(grade),
        "position": ar.vocabulary(staff.position),
        "hired_date": ar.dates(data_date - rng.integers(60, 25 * 365, n_staff)),
    }

    n_outlets = len(outlet_org)
    agents_per_outlet = rng.integers(2, 9, n_outlets)
    n_agents = int(agents_per_outlet.sum())
    agent_outlet = np.repeat(np.arange(n_outlets), agents_per_outlet)
    agent_type = rng.choice(len(AGENT_TYPES), n_agents, p=[0.35, 0.4, 0.1, 0.15])
    rate_low = np.array([800, 300, 200, 500])[agent_type]
    rate_high = np.array([1500, 800, 500, 1200])[agent_type]
    shop = ar.join(
        ar.take(
            ar.vocabulary(AGENT_SHOP_PREFIXES), rng.integers(0, len(AGENT_SHOP_PREFIXES), n_agents)
        ),
        ar.take(ar.vocabulary(AGENT_SHOP_WORDS), rng.integers(0, len(AGENT_SHOP_WORDS), n_agents)),
        ar.take(ar.vocabulary([f"({r}店)" for r in ROADS]), rng.integers(0, len(ROADS), n_agents)),
    )
    agent_ids = ar.codes("A", np.arange(1, n_agents + 1, dtype=np.int64), 6)
    agents = {
        "agent_id": agent_ids,
        "name": shop,
        "org_id": ar.take(org_ids, np.array(outlet_org)[agent_outlet]),
        "agent_type": ar.take(ar.vocabulary(AGENT_TYPES), agent_type),
        "commission_rate_bp": ar.ints(rng.integers(rate_low, rate_high + 1)),
        "since_date": ar.dates(data_date - rng.integers(30, 12 * 365, n_agents)),
    }
    n_grids = len(grid_org)
    # Network quality per grid: lognormal around 1, so some grids drop many calls.
    grid_quality = np.exp(rng.normal(-0.15, 0.55, n_grids))

    def arr(values: list[int]) -> IntArray:
        return np.array(values, dtype=np.int64)

    first_district = arr(city_first_district)
    return Org(
        org_units=org_units,
        staff=staff_table,
        agents=agents,
        org_ids=org_ids,
        city_weight=city_weight,
        city_org=arr(city_org),
        centre_org=arr(centre_org),
        district_city=arr(district_city),
        district_code=arr(district_code),
        city_first_district=first_district,
        city_district_count=np.diff(np.append(first_district, len(district_city))),
        outlet_org=arr(outlet_org),
        district_outlet_start=arr(outlet_start),
        district_outlet_count=arr(outlet_count),
        grid_org=arr(grid_org),
        grid_quality=grid_quality,
        district_grid_start=arr(grid_start),
        district_grid_count=arr(grid_count),
        staff_ids=staff_ids,
        outlet_staff_start=arr(outlet_staff_start),
        outlet_staff_count=arr(outlet_staff_count),
        centre_manager_start=arr(manager_start),
        centre_manager_count=arr(manager_count),
        agent_ids=agent_ids,
        outlet_agent_start=np.concatenate([[0], np.cumsum(agents_per_outlet)[:-1]]),
        outlet_agent_count=agents_per_outlet.astype(np.int64),
    )


def pick(rng: np.random.Generator, start: IntArray, count: IntArray, group: IntArray) -> IntArray:
    """For each row, a random member of its group (members of a group are contiguous)."""
    offset: IntArray = (rng.random(len(group)) * count[group]).astype(np.int64)
    result: IntArray = start[group] + offset
    return result
