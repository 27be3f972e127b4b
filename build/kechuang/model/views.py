"""SQL views for the joins journalists make most often, so they need not write them."""

from __future__ import annotations

from sqlite_utils import Database

_AGENCIES = """(
    select group_concat(name, '、') from (
      select a.{col} as name from measure_agencies ma join agencies a on a.id = ma.agency_id
      where ma.measure_id = {measure} and ma.role = '{role}' order by ma.position)
  )"""


def _agency_list(measure: str, role: str, col: str) -> str:
    return _AGENCIES.format(measure=measure, role=role, col=col)


VIEWS: dict[str, tuple[str, str]] = {
    "targets_detail": (
        "Every target with its policy, jurisdiction, measure, indicator and the agencies that lead or share its measure.",
        f"""
select
  t.id, t.name_zh, t.name_en, t.figure_zh, t.comparator, t.value, t.value_max, t.unit_zh, t.unit_en,
  t.value_base, t.base_unit, t.deadline_year, t.period, t.status,
  t.indicator_id, i.name_zh as indicator_zh, i.name_en as indicator_en,
  t.policy_id, p.title_zh as policy_title_zh, p.title_en as policy_title_en, p.status as policy_status,
  p.jurisdiction_id, j.name_zh as jurisdiction_zh, j.name_en as jurisdiction_en,
  t.measure_id, m.section, m.title_zh as measure_title_zh, m.title_en as measure_title_en,
  {_agency_list("t.measure_id", "lead", "name_zh")} as lead_agencies_zh,
  {_agency_list("t.measure_id", "lead", "name_en")} as lead_agencies_en,
  {_agency_list("t.measure_id", "responsible", "name_zh")} as responsible_agencies_zh,
  {_agency_list("t.measure_id", "responsible", "name_en")} as responsible_agencies_en,
  t.quote_zh, t.quote_en, t.note_zh, t.note_en
from targets t
join policies p on p.id = t.policy_id
join jurisdictions j on j.id = p.jurisdiction_id
left join measures m on m.id = t.measure_id
left join indicators i on i.id = t.indicator_id
""",
    ),
    "measures_detail": (
        "Every measure with its policy, its lead and responsible agencies and how many targets it states.",
        f"""
select
  m.id, m.policy_id, p.title_zh as policy_title_zh, p.title_en as policy_title_en, p.jurisdiction_id,
  m.kind, m.section, m.number, m.title_zh, m.title_en,
  {_agency_list("m.id", "lead", "name_zh")} as lead_agencies_zh,
  {_agency_list("m.id", "lead", "name_en")} as lead_agencies_en,
  {_agency_list("m.id", "responsible", "name_zh")} as responsible_agencies_zh,
  {_agency_list("m.id", "responsible", "name_en")} as responsible_agencies_en,
  (select count(*) from targets t where t.measure_id = m.id) as target_count,
  m.text_zh, m.text_en
from measures m join policies p on p.id = m.policy_id
""",
    ),
    "agency_workload": (
        "Each agency with the number of measures it leads and shares, across all policies.",
        """
select
  a.id, a.name_zh, a.name_en, a.jurisdiction_id, a.kind,
  sum(ma.role = 'lead') as measures_led,
  sum(ma.role = 'responsible') as measures_shared,
  count(distinct m.policy_id) as policies
from agencies a
left join measure_agencies ma on ma.agency_id = a.id
left join measures m on m.id = ma.measure_id
group by a.id
""",
    ),
    "indicator_targets": (
        "Every target linked to an indicator, by jurisdiction and year, in comparable base units.",
        """
select
  i.id as indicator_id, i.name_zh as indicator_zh, i.name_en as indicator_en,
  p.jurisdiction_id, t.deadline_year, t.period, t.comparator, t.value, t.value_max, t.unit_zh,
  t.value_base, t.value_max_base, t.base_unit, t.status, t.id as target_id, t.policy_id,
  p.issued_on as policy_issued_on
from targets t
join indicators i on i.id = t.indicator_id
join policies p on p.id = t.policy_id
""",
    ),
}


def create_views(db: Database) -> None:
    for name, (_description, sql) in VIEWS.items():
        db.create_view(name, sql.strip(), replace=True)
