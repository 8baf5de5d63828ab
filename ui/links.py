"""One check for every setting a shared link carries: a value the page's widget refuses gets a warning, never silence.

A widget bound to the URL (`bind="query-params"`) that cannot take a link's value drops it without a word,
and Streamlit removes it from the URL. Every page binds its widgets through `bound`, which reads the link's
raw value before the widget does and compares after: a setting that left the URL while its widget holds
something else was refused, and the page says so, whichever widget of whichever page it was. A link that
Streamlit ignores whole (over 1,000 parameters or 512 Ki characters) is seen through the warning Streamlit
logs for it, and said by the page's first bound widget.
"""

from __future__ import annotations

import logging

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

SET_BY_CODE = "widgets-set-by-code"  # the keys `set_widget` set since their widget last drew
OWN_MESSAGE = {"dataset"}  # the dataset box explains its refusals itself (which name a link should use)
_ignored: dict[str, str] = {}  # session id -> why Streamlit ignored its whole link


def bound(widget, *args, key: str, **kwargs):
    """`widget(*args, key=key, **kwargs)` bound to the URL; a link's value for it that it refused is said at once,
    in the page's main area (call the widget on its container, `exp.slider`, not inside `with exp:`, which would
    put the warning there too, hidden in a collapsed expander), with the values it takes, and again at each rerun
    until the student changes that setting."""
    # only a widget new to the session takes its value from the link; one that exists (a click, a preset) keeps its own
    raw = st.query_params.get(key) if key not in st.session_state else None
    _say_ignored_link()
    if key in st.session_state.get(SET_BY_CODE, set()):  # `set_widget` gave it its value (a preset, "Use lr"): the
        st.session_state[SET_BY_CODE].discard(key)  # widget gets no default beside it this once (Streamlit logs a
        kwargs.pop("value", None)  # trace for both); ever after it keeps its default, which a URL without the
        if getattr(widget, "__name__", "") == "slider" and len(args) > 3:  # setting falls back to (lr 0.02, not the
            args = (*args[:3], None, *args[4:])  # first option); a slider's identity is its key, min, max, step
    value = widget(*args, key=key, bind="query-params", **kwargs)
    refused = st.session_state.setdefault("link-refusals", {})  # key -> (the sentence, the value it left)
    if raw is not None and key not in OWN_MESSAGE and st.query_params.get(key) != raw and not _same(raw, value):
        # Streamlit took the value out of the URL and the widget holds something else: it was refused
        allowed = _allowed(widget, args, kwargs)
        refused[key] = (f"The link's setting `{key}={raw}` is not allowed here{allowed}, so the default is used.",
                        value)  # fmt: skip
    if key in refused:
        sentence, left = refused[key]
        if value == left:
            st.warning(sentence)
        else:  # the student chose a value: the refusal is answered
            del refused[key]
    return value


def set_widget(key: str, value) -> None:
    """Give a bound widget its value from code (a callback, or before the widget is drawn), as "Use lr" does."""
    st.session_state[key] = value
    st.session_state.setdefault(SET_BY_CODE, set()).add(key)


def _allowed(widget, args: tuple, kwargs: dict) -> str:
    """What the widget takes, for the refusal's sentence: " (allowed: 1 to 4)", " (allowed: relu, sigmoid, tanh)"."""
    kind = getattr(widget, "__name__", "")
    if kind in ("slider", "number_input"):
        low = kwargs.get("min_value", args[1] if len(args) > 1 else None)
        high = kwargs.get("max_value", args[2] if len(args) > 2 else None)
        return f" (allowed: {low:g} to {high:g})" if low is not None and high is not None else ""
    options = kwargs.get("options", args[1] if len(args) > 1 else None)
    if kind in ("select_slider", "selectbox", "radio") and options is not None:
        options = [str(o) for o in options]
        shown = ", ".join(options[:8]) + (f" and {len(options) - 8} more" if len(options) > 8 else "")
        return f" (allowed: {shown})"
    return ""


def _same(raw: str, value) -> bool:
    """Would the widget's value be written as `raw`? (A link may spell a default out: lr=0.1, normalize=False.)"""
    if isinstance(value, bool):
        return raw.lower() == str(value).lower()
    if isinstance(value, int | float):
        try:
            return float(raw) == value
        except ValueError:
            return False
    return raw == str(value)


def _say_ignored_link() -> None:
    """Once per link: Streamlit read none of it (it logged why, and `_IgnoredLinks` noted whose it was)."""
    ctx = get_script_run_ctx()
    if ctx is not None and (why := _ignored.pop(ctx.session_id, None)):
        st.warning(f"This link was ignored whole ({why}), so every setting is the page's default.")


class _IgnoredLinks(logging.Filter):
    """Streamlit logs 'Ignoring query string with N parameters ...' on the session's thread: note whose it was."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Ignoring query string"):
            import inspect

            from streamlit.runtime.app_session import AppSession

            frame = inspect.currentframe()
            while frame is not None:  # the AppSession whose client sent the link is a caller of the logger
                session = frame.f_locals.get("self")
                if isinstance(session, AppSession):
                    message = record.getMessage().removeprefix("Ignoring query string with ")
                    _ignored[session.id] = message.split(" because", 1)[0] + ", more than Streamlit reads"
                    break
                frame = frame.f_back
        return True


def watch_ignored_links() -> None:
    logger = logging.getLogger("streamlit.runtime.state.query_params")
    if not any(isinstance(f, _IgnoredLinks) for f in logger.filters):
        logger.addFilter(_IgnoredLinks())
