"""Synthetic datasets of any size that pass every validation rule, for the build benchmarks.

N targets and N measures, spread over policies of 1,000 measures each. Every measure is a
paragraph of its policy's generated source text and every target quotes a whole sentence of its
measure, with a figure and value as written, so validation does its full work on each row.
The small tables (units, jurisdictions, indicators) are the project's own; the others are empty.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

from kechuang.model.schema import load_schemas
from kechuang.project import Project

MEASURES_PER_POLICY = 1000
COPIED = ("units", "indicators")


def _writer(path: Path, header: list[str]):
    f = path.open("w", encoding="utf-8", newline="")
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(header)
    return f, writer


def write_synthetic_datasets(project: Project, target: Path, targets: int) -> Path:
    """A datasets folder under `target` with `targets` targets and as many measures; returns it."""
    datasets = target / "datasets"
    shutil.rmtree(datasets, ignore_errors=True)
    (datasets / "sources").mkdir(parents=True)
    schemas = load_schemas(project.schemas)
    for name, schema in schemas.items():
        if name in COPIED:
            shutil.copy(project.table_path(name), datasets / f"{name}.csv")
        else:
            with (datasets / f"{name}.csv").open("w", encoding="utf-8", newline="") as f:
                csv.writer(f, lineterminator="\n").writerow(schema.field_names)

    fields = {name: schema.field_names for name, schema in schemas.items()}
    with (datasets / "jurisdictions.csv").open("a", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerow(["wuhan", "武汉市", "Wuhan", "city", ""])

    policy_file, policies = _writer(datasets / "policies.csv.tmp", fields["policies"])
    measure_file, measures = _writer(datasets / "measures.csv.tmp", fields["measures"])
    target_file, rows = _writer(datasets / "targets.csv.tmp", fields["targets"])
    policy_count = max(1, -(-targets // MEASURES_PER_POLICY))
    for p in range(policy_count):
        policy_id = f"synthetic-policy-{p}"
        source = f"sources/{p:03d}_{hashlib.sha256(policy_id.encode()).hexdigest()[:16]}.txt"  # 1,000 at most
        paragraphs = []
        first = p * MEASURES_PER_POLICY
        for k in range(first, min(first + MEASURES_PER_POLICY, targets)):
            ordinal = k - first + 1
            value = 100 + k % 9000
            lead = f"（{ordinal}）推进第{k}项重点任务建设。"
            quote = f"到2027年，第{k}项指标达到{value}亿元。"
            paragraphs.append(lead + quote)
            measure_id = f"{policy_id}-task-{ordinal}"
            measures.writerow(
                _row(
                    fields["measures"],
                    id=measure_id,
                    policy_id=policy_id,
                    kind="task",
                    section=f"二、({ordinal})",
                    number=ordinal,
                    ordinal=ordinal,
                    title_zh=f"推进第{k}项重点任务建设",
                    title_en=f"Advance key task {k}",
                    text_zh=lead + quote,
                    text_en=f"({ordinal}) Advance key task {k}. By 2027, indicator {k} will reach {value} hundred million yuan.",
                )
            )
            rows.writerow(
                _row(
                    fields["targets"],
                    id=f"{policy_id}-target-{ordinal}",
                    policy_id=policy_id,
                    measure_id=measure_id,
                    name_zh=f"第{k}项指标",
                    name_en=f"Indicator {k}",
                    quote_zh=quote,
                    quote_en=f"By 2027, indicator {k} will reach {value} hundred million yuan.",
                    figure_zh=f"{value}亿元",
                    comparator="reach",
                    value=value,
                    unit_zh="亿元",
                    unit_en="100 million yuan",
                    deadline_year=2027,
                    period="by_deadline",
                    status="stated",
                )
            )
        (datasets / source).write_text("\n".join(paragraphs) + "\n", encoding="utf-8")
        policies.writerow(
            _row(
                fields["policies"],
                id=policy_id,
                source_id=Path(source).stem,
                title_zh=f"合成政策{p}",
                title_en=f"Synthetic policy {p}",
                title_is_editorial="true",
                issuer_zh="武汉市人民政府",
                issuer_en="Wuhan Municipal People's Government",
                jurisdiction_id="wuhan",
                doc_type="work_plan",
                status="issued",
                horizon_year=2027,
                source_file=source,
                summary_zh="用于性能测试的合成政策。",
                summary_en="A synthetic policy for benchmarks.",
            )
        )
    for f in (policy_file, measure_file, target_file):
        f.close()
    for name in ("policies", "measures", "targets"):
        (datasets / f"{name}.csv.tmp").replace(datasets / f"{name}.csv")
    return datasets


def _row(header: list[str], **values) -> list[str]:
    return [str(values.get(name, "")) for name in header]
