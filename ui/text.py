"""What a user typed or uploaded, drawn as text: a class name, a column name, a file name, a checkpoint's classes.

Streamlit draws labels, captions and messages as Markdown, and plotly draws chart labels as a little HTML:
a name holding `![x](http://...)` made every browser that showed it fetch that address, and one holding
`<a href=...>` became a link in a bar chart. `md` escapes the Markdown marks that make markup (and so
Streamlit's `:red[...]` and `$...$`) so the name reads as typed; `svg` escapes a name for plotly's labels.
"""

from __future__ import annotations

import html
import re

# the marks that make markup: links and images need [ ], emphasis * _ ~, code `, HTML and autolinks < >,
# math $, tables |, headings #, and \ itself; a sentence's own ( ) . : - stay as they are
_MARKS = re.compile(r"([\\`*_\[\]<>$~|#])")
# GitHub-flavoured Markdown links a bare address even with its marks escaped: an invisible word joiner after
# "http", "www" or an "@" keeps it text
_BARE_LINK = re.compile(r"(?i)(https?|ftp|mailto|www|@)")


def md(text: object) -> str:
    """`text` for st.markdown, st.caption, st.error, a tab's or a widget's label: shown exactly as written."""
    return _MARKS.sub(r"\\\1", _BARE_LINK.sub("\\1\u2060", str(text)))


def svg(text: object) -> str:
    """`text` for a plotly label (a bar's, an axis tick's): shown exactly as written, never a tag."""
    return html.escape(str(text), quote=False)
