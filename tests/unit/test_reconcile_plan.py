from pathlib import Path

from freshrag.documents import DocStatus, DocumentRecord, Op, Origin, SourceKind
from freshrag.reconcile import plan_reconcile
from freshrag.sources import FileState, IgnoreRules, WatchedFolder

FOLDER = WatchedFolder(path=Path("/data/inbox"), key="inbox-1234")


def record(relative: str, size: int, mtime: int, status: DocStatus = DocStatus.INDEXED) -> DocumentRecord:
    change = FOLDER.change_for(relative)
    return DocumentRecord(
        doc_id=change.doc_id,
        status=status,
        source_kind=SourceKind.FILE,
        uri=change.uri,
        root=FOLDER.key,
        size_bytes=size,
        mtime_ns=mtime,
    )


def test_new_modified_failed_and_vanished_files_are_planned_unchanged_ones_not() -> None:
    files = {
        "same.md": FileState(10, 1),
        "new.md": FileState(5, 2),
        "edited.md": FileState(11, 9),
        "bad.pdf": FileState(3, 3),
    }
    records = [
        record("same.md", 10, 1),
        record("edited.md", 10, 1),
        record("bad.pdf", 3, 3, DocStatus.FAILED),
        record("gone.md", 1, 1),
        record("long-gone.md", 1, 1, DocStatus.DELETED),
    ]
    plan = {(Path(c.uri).name, c.op) for c in plan_reconcile(FOLDER, files, records)}
    assert plan == {
        ("new.md", Op.UPSERT),
        ("edited.md", Op.UPSERT),
        ("bad.pdf", Op.UPSERT),
        ("gone.md", Op.DELETE),
    }


def test_a_prefix_limits_the_plan_to_that_subfolder_only() -> None:
    records = [record("sub/a.md", 1, 1), record("subway/b.md", 1, 1), record("c.md", 1, 1)]
    plan = plan_reconcile(FOLDER, {}, records, prefix="sub")
    assert [c.uri for c in plan] == ["/data/inbox/sub/a.md"]


def test_hidden_temporary_and_editor_files_are_ignored() -> None:
    rules = IgnoreRules(("*.log",))
    for name in (
        ".git/config",
        "notes/.draft.md",
        "a.md~",
        ".a.md.swp",
        "#a.md#",
        "~$report.docx",
        "download.crdownload",
        "x.tmp",
        "4913",
        "run.log",
    ):
        assert rules.ignores(name), name
    for name in ("a.md", "docs/guide.html", "report.docx"):
        assert not rules.ignores(name), name


def test_a_reconcile_is_a_backfill() -> None:
    files = {"new.md": FileState(size=1, mtime_ns=1)}
    plan = plan_reconcile(FOLDER, files, [])
    assert [c.origin for c in plan] == [Origin.BACKFILL]
