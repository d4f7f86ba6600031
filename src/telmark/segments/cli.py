"""``telmark segments``: saved segments (create, edit, clone, archive, count, sample), rules,
profile, overlap, size trend, snapshots and their exports."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from telmark.clikit import (
    JsonOpt,
    command_uow,
    command_warehouse,
    console,
    domain_errors,
    print_json,
    print_table,
)
from telmark.config import get_settings
from telmark.errors import InvalidInput
from telmark.segments import service, snapshots
from telmark.segments.compile import count, resolve_as_of, walk
from telmark.segments.domain import SegmentStatus
from telmark.segments.rules import (
    RuleDocument,
    SegmentCondition,
    parse_rule_text,
    rule_json_schema,
)
from telmark.segments.schemas import (
    ExportFormat,
    SegmentClone,
    SegmentCreate,
    SegmentRead,
    SegmentUpdate,
    SnapshotRead,
)

app = typer.Typer(no_args_is_help=True)

RuleOpt = Annotated[
    Path, typer.Option("--rule", help="Rule document: a .json or .yaml file.", show_default=False)
]
RuleFileOpt = Annotated[
    Path | None,
    typer.Option("--rule", help="Rule document: a .json or .yaml file.", show_default=False),
]
SegmentArg = Annotated[int | None, typer.Argument(help="Saved segment id.", show_default=False)]
IdArg = Annotated[int, typer.Argument(help="Saved segment id.", show_default=False)]
AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="As-of month, YYYY-MM (default: the latest usage month)."),
]


def read_rule(path: Path) -> RuleDocument:
    """The validated rule in ``path``; InvalidInput names the file (and the bad node)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"{path}: cannot read the rule file: {error}") from None
    return parse_rule_text(text, source=str(path))


def _month(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value if len(value) > 7 else f"{value}-01")
    except ValueError:
        raise InvalidInput(f"--as-of: expected YYYY-MM, got {value!r}") from None


@app.command("count")
def count_command(
    segment_id: SegmentArg = None,
    rule: RuleFileOpt = None,
    as_of: AsOfOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Count the lines a saved segment (by id) or a rule file (--rule) selects."""
    with domain_errors():
        if (segment_id is None) == (rule is None):
            raise InvalidInput("give a segment id or --rule FILE (one of them)")
        document = read_rule(rule) if rule is not None else None
        month = _month(as_of)
    with command_warehouse() as con:
        resolved = resolve_as_of(con, month)
        if document is not None:
            if any(isinstance(node, SegmentCondition) for _, node in walk(document.root)):
                # References to saved segments resolve with the CLI user's visibility.
                with command_uow() as uow:
                    members = count(con, document, as_of=resolved, resolve=service.resolver(uow))
            else:
                # A self-contained rule file needs no operational database.
                members = count(con, document, as_of=resolved)
            payload: dict[str, object] = {"count": members, "as_of": resolved}
            payload["rule"] = document.model_dump(mode="json", by_alias=True, exclude_none=True)
            label = str(rule)
        else:
            assert segment_id is not None  # checked above
            with command_uow() as uow:
                result = service.count_segment(
                    uow=uow, con=con, segment_id=segment_id, as_of=resolved
                )
            members = result.count
            payload = result.model_dump(mode="json")
            label = f"segment {segment_id} (version {result.version})"
    if json_output:
        print_json(payload)
    else:
        console.print(f"{members:,} lines match {label} (as of {resolved:%Y-%m})")


@app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of a segment rule document."""
    print_json(rule_json_schema())


def _rule_json(document: RuleDocument) -> dict[str, object]:
    return document.model_dump(mode="json", by_alias=True, exclude_none=True)


def _show(segment: SegmentRead, json_output: bool) -> None:
    if json_output:
        print_json(segment.model_dump(mode="json"))
        return
    console.print(
        f"segment {segment.id} [bold]{segment.name}[/bold] ({segment.org_code}, "
        f"{segment.status}, version {segment.current_version})"
    )
    if segment.description:
        console.print(segment.description)
    console.print_json(data=segment.rule)


@app.command("create")
def create_command(
    name: Annotated[str, typer.Option("--name", help="Segment name.", show_default=False)],
    rule: RuleOpt,
    org: Annotated[
        str | None, typer.Option("--org", help="Owning org unit code (default: the province).")
    ] = None,
    description: Annotated[str, typer.Option("--description")] = "",
    note: Annotated[str, typer.Option("--note", help="Note on the first version.")] = "",
    json_output: JsonOpt = False,
) -> None:
    """Save a new segment from a rule file."""
    with domain_errors():
        document = read_rule(rule)
    with command_uow() as uow:
        spec = SegmentCreate(
            name=name,
            description=description,
            org_code=org,
            rule=_rule_json(document),
            note=note,
        )
        _show(service.create_segment(uow=uow, spec=spec), json_output)


@app.command("list")
def list_command(
    status: Annotated[SegmentStatus | None, typer.Option("--status")] = None,
    json_output: JsonOpt = False,
) -> None:
    """List saved segments."""
    with command_uow() as uow:
        segments = service.list_segments(uow=uow, status=status)
    if json_output:
        print_json([s.model_dump(mode="json") for s in segments])
        return
    print_table(
        "Segments",
        ["id", "name", "org", "status", "version", "updated"],
        [
            [s.id, s.name, s.org_code, s.status, s.current_version, f"{s.updated_at:%Y-%m-%d}"]
            for s in segments
        ],
    )


@app.command("show")
def show_command(segment_id: IdArg, json_output: JsonOpt = False) -> None:
    """Show a segment and its current rule."""
    with command_uow() as uow:
        _show(service.get_segment(uow=uow, segment_id=segment_id), json_output)


@app.command("versions")
def versions_command(segment_id: IdArg, json_output: JsonOpt = False) -> None:
    """List every saved version of a segment's rule."""
    with command_uow() as uow:
        versions = service.list_versions(uow=uow, segment_id=segment_id)
    if json_output:
        print_json([v.model_dump(mode="json") for v in versions])
        return
    print_table(
        f"Segment {segment_id}",
        ["version", "by", "at", "note"],
        [[v.version, v.created_by, f"{v.created_at:%Y-%m-%d %H:%M}", v.note] for v in versions],
    )


@app.command("update")
def update_command(
    segment_id: IdArg,
    rule: RuleOpt,
    note: Annotated[str, typer.Option("--note", help="What changed.")] = "",
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Save a new version of a segment's rule."""
    with domain_errors():
        document = read_rule(rule)
    with command_uow() as uow:
        spec = SegmentUpdate(rule=_rule_json(document), note=note, name=name)
        _show(service.update_segment(uow=uow, segment_id=segment_id, spec=spec), json_output)


@app.command("clone")
def clone_command(
    segment_id: IdArg,
    name: Annotated[str | None, typer.Option("--name", help="Name of the copy.")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Copy a segment's current rule into a new segment."""
    with command_uow() as uow:
        copy = service.clone_segment(uow=uow, segment_id=segment_id, spec=SegmentClone(name=name))
        _show(copy, json_output)


@app.command("archive")
def archive_command(segment_id: IdArg, json_output: JsonOpt = False) -> None:
    """Archive a segment (closed for edits; still countable)."""
    with command_uow() as uow:
        segment = service.set_status(uow=uow, segment_id=segment_id, status=SegmentStatus.ARCHIVED)
        _show(segment, json_output)


@app.command("restore")
def restore_command(segment_id: IdArg, json_output: JsonOpt = False) -> None:
    """Make an archived segment active again."""
    with command_uow() as uow:
        segment = service.set_status(uow=uow, segment_id=segment_id, status=SegmentStatus.ACTIVE)
        _show(segment, json_output)


@app.command("sample")
def sample_command(
    segment_id: IdArg,
    n: Annotated[int, typer.Option("--n", help="How many members.")] = 20,
    unmask: Annotated[
        bool, typer.Option("--unmask", help="Personal values in clear (audited).")
    ] = False,
    as_of: AsOfOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Show the first members of a segment, personal values masked unless --unmask."""
    with domain_errors():
        month = _month(as_of)
    with command_warehouse() as con, command_uow() as uow:
        sample = service.sample_segment(
            uow=uow, con=con, segment_id=segment_id, n=n, unmask=unmask, as_of=month
        )
    if json_output:
        print_json(sample.model_dump(mode="json"))
        return
    columns = list(sample.members[0]) if sample.members else ["subscriber_id"]
    print_table(
        f"Segment {segment_id} v{sample.version}: {sample.count:,} lines "
        f"(as of {sample.as_of:%Y-%m})",
        columns,
        [[m.get(c) for c in columns] for m in sample.members],
    )


VersionOpt = Annotated[
    int | None, typer.Option("--version", help="Rule version (default: the current one).")
]


@app.command("profile")
def profile_command(
    segment_id: IdArg,
    version: VersionOpt = None,
    as_of: AsOfOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Who a segment's members are: distributions against the base, with an index."""
    with domain_errors():
        month = _month(as_of)
    with command_warehouse() as con, command_uow() as uow:
        result = service.profile_segment(
            uow=uow, con=con, segment_id=segment_id, version=version, as_of=month
        )
    if json_output:
        print_json(result.model_dump(mode="json"))
        return
    console.print(
        f"segment {segment_id}: {result.size:,} of {result.base_size:,} lines "
        f"({result.share_of_base:.1%}) as of {result.as_of:%Y-%m}"
    )
    for distribution in result.distributions:
        print_table(
            distribution.dimension,
            ["value", "segment", "share", "base share", "index"],
            [
                [
                    b.key,
                    f"{b.segment:,}",
                    f"{b.segment_share:.1%}",
                    f"{b.base_share:.1%}",
                    "" if b.index is None else f"{b.index:.0f}",
                ]
                for b in distribution.buckets
            ],
        )
    for note in result.notes:
        console.print(note)


@app.command("overlap")
def overlap_command(
    segment_ids: Annotated[
        list[int], typer.Argument(help="2 to 8 saved segment ids.", show_default=False)
    ],
    as_of: AsOfOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """How many lines each pair of segments shares."""
    with domain_errors():
        month = _month(as_of)
    with command_warehouse() as con, command_uow() as uow:
        matrix = service.overlap_segments(uow=uow, con=con, segment_ids=segment_ids, as_of=month)
    if json_output:
        print_json(matrix.model_dump(mode="json"))
        return
    print_table(
        "Overlap (lines in common)",
        ["", "size", *matrix.names],
        [
            [name, f"{size:,}", *(f"{n:,}" for n in row)]
            for name, size, row in zip(
                matrix.names, matrix.sizes, matrix.intersections, strict=True
            )
        ],
    )


@app.command("trend")
def trend_command(
    segment_id: IdArg,
    months: Annotated[int, typer.Option("--months", help="How many latest months.")] = 6,
    version: VersionOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """The member count as of each of the latest months."""
    with command_warehouse() as con, command_uow() as uow:
        trend = service.size_trend_segment(
            uow=uow, con=con, segment_id=segment_id, version=version, months=months
        )
    if json_output:
        print_json(trend.model_dump(mode="json"))
        return
    print_table(
        f"Segment {segment_id} v{trend.version}",
        ["month", "lines"],
        [[f"{p.month:%Y-%m}", f"{p.count:,}"] for p in trend.points],
    )


def _snapshot_rows(items: list[SnapshotRead]) -> list[list[object]]:
    return [
        [
            s.id,
            s.version,
            f"{s.as_of:%Y-%m}",
            s.data_date,
            s.org_code,
            s.status,
            "" if s.member_count is None else f"{s.member_count:,}",
            s.created_by,
            f"{s.created_at:%Y-%m-%d %H:%M}",
        ]
        for s in items
    ]


SNAPSHOT_COLUMNS = ["id", "version", "as of", "data date", "scope", "status", "lines", "by", "at"]


@app.command("snapshot")
def snapshot_command(
    segment_id: IdArg,
    version: VersionOpt = None,
    as_of: AsOfOpt = None,
    key: Annotated[
        str | None,
        typer.Option("--key", help="Idempotency key: rerunning with it returns the same snapshot."),
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Freeze a segment's members into a snapshot (a verified Parquet member list)."""
    with domain_errors():
        month = _month(as_of)
    directory = get_settings().resolved_snapshot_dir
    with command_warehouse() as con, command_uow() as uow:
        taken = snapshots.take_snapshot(
            uow=uow,
            con=con,
            directory=directory,
            segment_id=segment_id,
            version=version,
            as_of=month,
            idempotency_key=key,
        )
    if json_output:
        print_json(taken.model_dump(mode="json"))
        return
    console.print(
        f"snapshot {taken.id} of segment {segment_id} v{taken.version}: "
        f"{taken.member_count or 0:,} lines as of {taken.as_of:%Y-%m} "
        f"(data date {taken.data_date}, sha256 {str(taken.sha256)[:12]}…)"
    )


@app.command("snapshots")
def snapshots_command(segment_id: IdArg, json_output: JsonOpt = False) -> None:
    """List a segment's snapshots, newest first."""
    with command_uow() as uow:
        items = snapshots.list_snapshots(uow=uow, segment_id=segment_id)
    if json_output:
        print_json([s.model_dump(mode="json") for s in items])
        return
    print_table(f"Snapshots of segment {segment_id}", SNAPSHOT_COLUMNS, _snapshot_rows(items))


@app.command("export")
def export_command(
    snapshot_id: Annotated[int, typer.Argument(help="Snapshot id.", show_default=False)],
    out: Annotated[
        Path, typer.Option("--out", help="File to write (replaced).", show_default=False)
    ],
    export_format: Annotated[
        ExportFormat, typer.Option("--format", help="csv (UTF-8 with BOM) or parquet.")
    ] = ExportFormat.CSV,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            help="Comma-separated columns: " + ", ".join(snapshots.EXPORT_COLUMNS) + ".",
        ),
    ] = None,
    unmask: Annotated[
        bool, typer.Option("--unmask", help="Personal values in clear (audited).")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Export a snapshot's members with subscriber columns (personal ones masked)."""
    with domain_errors():
        if not out.parent.is_dir():
            raise InvalidInput(
                f"--out: directory {out.parent} does not exist", details=[{"field": "out"}]
            )
    directory = get_settings().resolved_snapshot_dir
    with command_warehouse() as con, command_uow() as uow:
        result = snapshots.export_snapshot(
            uow=uow,
            con=con,
            directory=directory,
            snapshot_id=snapshot_id,
            out=out,
            export_format=export_format,
            columns=columns.split(",") if columns is not None else None,
            unmask=unmask,
        )
    if json_output:
        print_json({**result.model_dump(mode="json"), "path": str(out)})
        return
    masked = "in clear" if result.unmasked else "masked"
    console.print(f"wrote {result.rows:,} lines ({masked}) to {out}")
