"""Self-contained HTML pages: styles inline, images embedded as data URIs, no script and
nothing fetched from the network, laid out to read at desktop and phone widths."""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

STYLE = """
*{box-sizing:border-box}
body{margin:0;background:#f6f7f9;color:#1d232b;font:15px/1.5 system-ui,-apple-system,
"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:16px}
header{padding:8px 0 4px}
h1{font-size:1.6em;margin:0 0 4px;overflow-wrap:anywhere}
h2{font-size:1.2em;margin:0 0 10px}
h3{font-size:1em;margin:14px 0 4px}
.sub{color:#5a6472;margin:0}
p,li,.sub{overflow-wrap:anywhere}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:14px 16px;
margin:14px 0}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0 0}
.card{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:8px 14px;
min-width:120px;flex:1 1 120px}
.card b{display:block;font-size:1.35em}
.card span{color:#5a6472;font-size:.85em}
.scroll{overflow-x:auto;max-width:100%}
.tall{max-height:420px;overflow-y:auto}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:.92em}
th,td{padding:4px 10px;border-bottom:1px solid #e8ebef;text-align:left;white-space:nowrap}
td.n,th.n{text-align:right}
table.pairs td{white-space:normal;overflow-wrap:anywhere;text-align:left}
table.pairs td:first-child{color:#5a6472;min-width:7em}
thead th{background:#f0f2f5;position:sticky;top:0}
figure{margin:10px 0 18px}
figure img{display:block;width:auto;max-width:100%;height:auto;border:1px solid #e8ebef;
border-radius:4px;background:#fff}
figcaption{color:#5a6472;font-size:.9em;margin-top:4px}
pre{background:#f6f7f9;border:1px solid #e8ebef;border-radius:4px;padding:10px;overflow-x:auto;
font-size:.85em;margin:0}
.note{background:#fff8e1;border:1px solid #f0d98a;border-radius:6px;padding:8px 12px}
@media (max-width:600px){main{padding:8px}section{padding:10px}h1{font-size:1.3em}
body{font-size:14px}}
"""


def escape(value: Any) -> str:
    return html.escape(str(value), quote=True)


def number(value: Any) -> str:
    """A value as a table shows it: floats to 4 significant digits, the rest as text."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.4e}"
    return str(value)


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def table(header: Sequence[str] | None, rows: Iterable[Sequence[Any]], tall: bool = False) -> str:
    """A table in a horizontally scrolling box (numbers right-aligned); with no header, a
    table of names and values whose text wraps."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header or [])
    head = f"<thead><tr>{head}</tr></thead>" if header else ""
    kind = "" if header else ' class="pairs"'
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="n">{escape(number(v))}</td>' if _numeric(v) else f"<td>{escape(v)}</td>"
            for v in row
        )
        body.append(f"<tr>{cells}</tr>")
    box = "scroll tall" if tall else "scroll"
    return f'<div class="{box}"><table{kind}>{head}<tbody>{"".join(body)}</tbody></table></div>'


def pairs(values: Mapping[str, Any]) -> str:
    """A two-column table of names and values."""
    return table(None, [(k, v) for k, v in values.items() if v is not None])


def cards(values: Mapping[str, Any]) -> str:
    items = "".join(
        f'<div class="card"><b>{escape(number(v))}</b><span>{escape(k)}</span></div>'
        for k, v in values.items()
    )
    return f'<div class="cards">{items}</div>'


def image(path: Path, alt: str, caption: str = "") -> str:
    """A PNG file embedded in the page (a data URI), with its caption."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    text = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="data:image/png;base64,{data}" alt="{escape(alt)}">{text}</figure>'


def preformatted(text: str) -> str:
    return f"<pre>{escape(text)}</pre>"


def section(title: str, *parts: str, anchor: str = "") -> str:
    where = f' id="{escape(anchor)}"' if anchor else ""
    return f"<section{where}><h2>{escape(title)}</h2>{''.join(parts)}</section>"


def page(title: str, subtitle: str, *parts: str) -> str:
    """A whole page: ``<head>`` with the styles, a header, then ``parts``."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body><main>"
        f'<header><h1>{escape(title)}</h1><p class="sub">{escape(subtitle)}</p></header>'
        f"{''.join(parts)}</main></body></html>\n"
    )
