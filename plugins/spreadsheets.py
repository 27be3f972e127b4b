"""Datasette adapter for the spreadsheet downloads (`.xlsx`, `.excel_csv`): the logic lives in
`kechuang.serve.spreadsheets`."""

from datasette import hookimpl

from kechuang.serve.spreadsheets import output_renderers


@hookimpl
def register_output_renderer(datasette):
    return output_renderers()
