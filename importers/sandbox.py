"""Read and parse an uploaded ledger in a child process with a memory and a time limit.

A crafted spreadsheet can make the reader's native code (python-calamine) fail an allocation and
abort the whole process, or grow it by gigabytes, or spin. The size checks of importers/limits.py
refuse what a file declares; this module contains the rest: the file is opened and parsed in a
forked child whose address space (RLIMIT_AS) and CPU time are capped, and the caller waits for
it with a deadline. Whatever happens to the child, the caller gets the parse or a Chinese
ImportFileError, and its own memory holds only the result.

The jobs are plain functions of plain arguments (`list_sheets`, `parse_file`), so any worker can
call them, here through `isolated()` or directly.
"""
from __future__ import annotations

import gc
import math
import multiprocessing
import multiprocessing.forkserver
import resource
import signal
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from importers import stash
from importers.errors import ImportFileError, UnmappedTableError
from importers.limits import MB, ReadLimits
from importers.mapping import ColumnMapping
from importers.parse import ParseOptions, find_table, parse_sheet
from importers.values import to_text
from importers.parsed import ParsedSheet
from importers.reader import DEFAULT_MAX_BYTES, open_book

# A fork server started once, with the reader and the parser already imported, forks each child:
# cheap, and unlike forking the web process it copies no threads' locks. As with any
# multiprocessing start method but fork, the main module must be importable without side effects
# (`if __name__ == "__main__":`); preloading it in the server spares each child importing it again.
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["__main__", "importers.sandbox"])


@dataclass(frozen=True)
class SandboxLimits:
    """What one child may use: address space and wall-clock seconds."""

    memory_bytes: int = 2048 * MB
    seconds: float = 300.0
    # Off: the job runs in the caller's process (the size checks still apply). Tests of the
    # pipeline use it to stay fast; the tests of hostile files and one import run the child.
    enabled: bool = True


class SandboxError(RuntimeError):
    """The child failed for a reason that is not the file's (a bug): the caller logs it."""


def _time_out(seconds: float) -> ImportFileError:
    return ImportFileError(f"分析文件超过了 {seconds:g} 秒的时限，已停止。文件可能结构异常或已损坏，"
                           "请在Excel中打开并另存为.xlsx后再导入")


def _crashed(memory_bytes: int) -> ImportFileError:
    return ImportFileError(f"文件已损坏或解开后过大（读取所需内存超过 {memory_bytes // MB} MB 的上限），"
                           "未能读取，没有写入任何数据。请在Excel中打开并另存为.xlsx后再导入")


def start() -> None:
    """Start the fork server now (e.g. in a benchmark), so that the first job does not wait for it."""
    multiprocessing.forkserver.ensure_running()


def isolated(job: Callable[..., Any], *args: Any, limits: SandboxLimits = SandboxLimits(),
             progress: Callable[[Any], None] | None = None, stats: dict | None = None,
             parts: Callable[[Any], None] | None = None) -> Any:
    """Run `job(*args, progress=...)` in a limited child process and return what it returns.

    Raises ImportFileError for a file the job refused, one that crashed or exhausted the child,
    or took too long; SandboxError when the job failed otherwise. `progress` receives the
    numbers the job reports; `stats` gets the child's peak memory ("peak_mb") and CPU seconds ("cpu_seconds")
    when it answered. With `parts`, the job is called with `emit=` too: each value it emits is
    handed to `parts` here while the child goes on (the time `parts` takes is not the child's).
    """
    extra = {} if parts is None else {"emit": parts}
    if not limits.enabled:
        answer = job(*args, progress=progress, **extra)
        if isinstance(answer, AndThen):
            answer.then()
            return answer.value
        return answer
    kind = None
    receive, send = _CONTEXT.Pipe(duplex=False)
    child = _CONTEXT.Process(target=_child, args=(send, limits, job, args, parts is not None), daemon=True)
    child.start()
    send.close()
    deadline = time.monotonic() + limits.seconds
    try:
        while True:
            if not receive.poll(max(0.0, deadline - time.monotonic())):
                raise _time_out(limits.seconds)
            try:
                kind, value, *peak = receive.recv()
            except (EOFError, OSError):  # the child died without a word: killed by the kernel or aborted
                child.join(5)
                raise _crashed(limits.memory_bytes) from None
            if kind == "progress":
                if progress is not None:
                    progress(value)
                continue
            if kind == "part":
                began = time.monotonic()
                parts(value)
                deadline += time.monotonic() - began
                continue
            if stats is not None and peak:
                stats["peak_mb"], stats["cpu_seconds"] = peak[0], peak[1]
            break
    finally:
        receive.close()
        if kind != "ok":  # an answer may leave the child its follow-up work (AndThen); anything else ends it
            child.kill()
            child.join()
    if kind == "ok":
        return value
    if kind == "file":
        message, sheet, details = value
        if details is not None:
            raise UnmappedTableError(message, sheet=sheet, **details)
        raise ImportFileError(message, sheet=sheet)
    if kind == "memory":
        raise _crashed(limits.memory_bytes)
    raise SandboxError(value)


def _child(send, limits: SandboxLimits, job: Callable[..., Any], args: tuple, emits: bool = False) -> None:
    """The child: cap its memory and CPU, run the job, send back ('ok'|'file'|'memory'|'error', value)."""
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    cpu = math.ceil(limits.seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is for the parent, which kills the child
    gc.disable()  # the parse allocates millions of objects that live until it ends; nothing cycles
    then = None
    try:
        extra = {"emit": lambda value: send.send(("part", value))} if emits else {}
        answer = job(*args, progress=lambda n: send.send(("progress", n)), **extra)
        if isinstance(answer, AndThen):
            answer, then = answer.value, answer.then
        result = ("ok", answer)
    except ImportFileError as error:
        result = ("file", (error.message, error.sheet, error.details()))
    except MemoryError:
        result = ("memory", None)
    except Exception:  # a bug, not the file: the caller logs it
        result = ("error", traceback.format_exc())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_mb = usage.ru_maxrss / 1024  # KiB on Linux
    try:
        send.send((*result, peak_mb, usage.ru_utime + usage.ru_stime))
    except MemoryError:
        send.send(("memory", None))
        then = None
    send.close()
    if then is not None:
        then()


# ----- the jobs ----------------------------------------------------------------------------------

def list_sheets(path: str, filename: str, max_bytes: int = DEFAULT_MAX_BYTES, limits: ReadLimits = ReadLimits(),
                progress: Callable[[int], None] | None = None) -> list[str]:
    """The visible sheets of the stored upload; ImportFileError when it cannot be read."""
    with open_book(path, filename=filename, max_bytes=max_bytes, limits=limits) as book:
        return list(book.visible_sheet_names)


GRID_ROWS = 25
GRID_COLUMNS = 40
GRID_CELL_CHARS = 40


def sheet_grid(path: str, filename: str, sheet: str | None = None, rows: int = GRID_ROWS,
               progress: Callable[[int], None] | None = None) -> dict:
    """The first rows of a sheet (the first visible one by default) as text, for choosing the header by eye.

    {"sheet": name, "rows": [[text, ...], ...]} with at most GRID_COLUMNS columns, trailing empty
    columns dropped and long texts cut.
    """
    limits = ReadLimits()
    with open_book(path, filename=filename, max_bytes=2 ** 62, limits=limits) as book:
        names = book.visible_sheet_names
        name = sheet if sheet in book.sheet_names else (names[0] if names else None)
        if name is None:
            return {"sheet": "", "rows": []}
        grid = []
        for row in book.sheet(name).rows():
            if len(grid) == rows:
                break
            grid.append([to_text(v)[:GRID_CELL_CHARS] if v != "" else "" for v in row[:GRID_COLUMNS]])
    width = max((i + 1 for row in grid for i, v in enumerate(row) if v), default=0)
    return {"sheet": name, "rows": [row[:width] + [""] * (width - len(row[:width])) for row in grid]}


@dataclass(frozen=True)
class ParseRequest:
    """What a dry run asks of the stored upload: the sheet, the mapping and what is in the database."""

    path: str
    filename: str
    kinds: tuple[tuple[str, str], ...]
    options: ParseOptions = ParseOptions()
    # The catalogue's other spellings, (code, alias), as the database holds them (None: the seed file's).
    aliases: tuple[tuple[str, str], ...] | None = None
    sheet: str | None = None
    # The mapping to use (the batch's own), else one saved for a header of the same signature.
    mapping: ColumnMapping | None = None
    overrides: Mapping[str, int | str | None] | None = None
    saved_mappings: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    # The kind values saved with those mappings (signature -> (value, code) pairs), used with a saved
    # mapping when the batch has chosen none of its own (see saved_kind_values).
    saved_kind_values: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    keep_cells: Callable[[list], object] | None = None
    # (folder, file hash): stash the parse there for the apply (see importers/stash.py).
    stash_in: tuple[str, str] | None = None


@dataclass(frozen=True)
class AndThen:
    """A job's answer, and work the child does after sending it: the caller does not wait for that."""

    value: Any
    then: Callable[[], None]


def parse_file(request: ParseRequest, progress: Callable[[tuple[int, int]], None] | None = None,
               parts: Callable[[ParsedSheet], None] | None = None) -> tuple[ParsedSheet, int]:
    """Read the stored upload and parse its sheet; (parsed sheet, rows in the sheet). ImportFileError if unusable.

    `progress` receives (rows read, rows in the sheet) every few thousand rows; `parts`, the rows as
    they are parsed (see `parse_sheet`: the sheet returned then holds only the rows after the last part).
    """
    options = request.options
    limits = ReadLimits(max_rows=options.max_rows)
    with open_book(request.path, filename=request.filename, max_bytes=2 ** 62, limits=limits) as book:
        mapping = request.mapping
        total = 0
        # Only the chosen sheet is loaded (or, on the first dry run, the sheets up to the first
        # one with a table); parse_sheet below reads the same loaded sheet.
        table = find_table(book, request.sheet, kinds=request.kinds, options=options, aliases=request.aliases)
        if table is not None:
            total = table.height
            if mapping is None and request.overrides is None:
                saved = request.saved_mappings.get(table.mapping.signature)
                if saved is not None:
                    mapping = ColumnMapping(table.mapping.headers, {k: int(v) for k, v in saved.items()})
                    options = options_used(request, table.mapping.signature)
        parsed = parse_sheet(book, request.sheet, kinds=request.kinds, mapping=mapping, overrides=request.overrides,
                             options=options, keep_cells=request.keep_cells, aliases=request.aliases, parts=parts,
                             progress=(lambda n: progress((n, total))) if progress else None)
    return parsed, total


def options_used(request: ParseRequest, signature: str) -> ParseOptions:
    """The options the parse of a header with `signature` used: the request's, with the kind values
    saved beside the saved mapping it took (when the batch chose none of its own)."""
    saved = request.saved_kind_values.get(signature)
    if (not saved or request.options.kind_values or request.mapping is not None or request.overrides is not None
            or signature not in request.saved_mappings):
        return request.options
    return replace(request.options, kind_values=tuple(map(tuple, saved)))


def parse_file_packed(request: ParseRequest, progress: Callable[[tuple[int, int]], None] | None = None,
                      emit: Callable[[ParsedSheet | bytes], None] | None = None
                      ) -> tuple[ParsedSheet | bytes, int] | AndThen:
    """`parse_file`, with the parsed sheet packed as stash bytes when it can be (see `unpack`).

    Pickling 100,000 parsed rows across the pipe cost more than parsing them; marshal of plain
    tuples (the stash's format, cells included) is several times cheaper on both sides.
    With `emit`, the rows go out packed as they are parsed, a part at a time (the caller plans
    each while the next is read), the stash is written part by part, and the sheet answered holds
    only the last rows and the skipped counts of the whole sheet.
    """
    if emit is not None:
        return _parse_streamed(request, progress, emit)
    parsed, total = parse_file(request, progress)
    answer = (stash.dumps(parsed, cells=True) or parsed, total)
    if request.stash_in is None:
        return answer
    path = _stash_path(request, parsed)
    # Written while the caller plans: off the dry run's path.
    return AndThen(answer, lambda: stash.save(path, parsed))


def _stash_path(request: ParseRequest, parsed: ParsedSheet):
    folder, file_hash = request.stash_in
    return stash.parse_path(folder, file_hash, sheet=parsed.sheet, headers=parsed.headers,
                            mapping=parsed.mapping.fields, kinds=request.kinds,
                            options=options_used(request, parsed.mapping.signature), aliases=request.aliases)


def _parse_streamed(request: ParseRequest, progress: Callable[[tuple[int, int]], None] | None,
                    emit: Callable[[ParsedSheet | bytes], None]) -> tuple[ParsedSheet | bytes, int]:
    writer: list[stash.Writer] = []

    def packed(part: ParsedSheet) -> ParsedSheet | bytes:
        full, bare = stash.dumps_both(part)
        if request.stash_in is not None:
            if not writer:
                writer.append(stash.Writer(_stash_path(request, part)))
            writer[0].add(bare)
        return full or part

    try:
        last, total = parse_file(request, progress, parts=lambda part: emit(packed(part)))
        answer = packed(last)
        if writer:
            writer[0].finish()
    finally:
        if writer:
            writer[0].abandon()  # nothing left to remove once finished
    return answer, total


def unpack(parsed: ParsedSheet | bytes) -> ParsedSheet:
    """The parsed sheet from `parse_file_packed`'s result."""
    if isinstance(parsed, bytes):
        sheet = stash.loads(parsed)
        if sheet is None:
            raise SandboxError("the parse sent back by the child could not be read")
        return sheet
    return parsed
