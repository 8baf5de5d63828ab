"""The app's navigation: the sidebar's page links on a computer; on a phone one "Pages" menu at the top of the page.

A phone shows the sidebar as a drawer over the page, and Streamlit puts the page links at its top: a student
who opens it to change the learning rate first scrolls past 12 links (about 600 px of an 844-px screen). On a
phone the links move into a menu above the page, so the drawer holds only the page's settings. A phone is
told by its browser's User-Agent, which has "Mobi" in every phone browser's (Safari, Chrome, Firefox, Samsung
Internet) and in no tablet's or computer's, as MDN advises; a narrow desktop window keeps the sidebar's links.
"""

from __future__ import annotations

import streamlit as st


def on_a_phone() -> bool:
    return "Mobi" in st.context.headers.get("User-Agent", "")


def navigate(pages: dict[str, list[st.Page]]) -> None:
    """Run the chosen page of `pages` (section -> pages), with the links where this browser can reach them."""
    phone = on_a_phone()
    page = st.navigation(pages, position="hidden" if phone else "sidebar")
    if phone:
        # keyed by the page: the menu of the page a link opens is a new one, closed (an unkeyed one stays open)
        with st.popover(f"Pages: {page.title}", icon=":material/menu:", key=f"pages-{page.url_path or 'home'}"):
            for section, entries in pages.items():
                st.caption(section)
                for entry in entries:
                    st.page_link(entry)
    page.run()
