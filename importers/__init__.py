"""Legacy-ledger import (台账导入), no Flask: read -> map -> normalise -> validate -> plan -> apply.

This package holds the front half. `open_book` reads a file, `find_tables` lists the sheets
that hold a ledger table with their column mapping (`find_table` finds one, loading only the
sheets it looks at), and `parse_sheet` turns one sheet into `ParsedRow`s (typed values plus row
errors) with the skipped rows counted. `stash` keeps a parse between the dry run and the apply.
`limits` refuses files too large to load; `sandbox` reads and parses in a limited child process.
"""
from importers.errors import ImportFileError
from importers.mapping import ColumnMapping
from importers.parse import ParseOptions, find_table, find_tables, parse_sheet
from importers.parsed import ParsedRow, ParsedSheet, RowError, TableInfo
from importers.reader import Book, open_book

__all__ = [
    "Book",
    "ColumnMapping",
    "ImportFileError",
    "ParseOptions",
    "ParsedRow",
    "ParsedSheet",
    "RowError",
    "TableInfo",
    "find_table",
    "find_tables",
    "open_book",
    "parse_sheet",
]
