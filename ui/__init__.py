"""The pieces the pages share: a training page's body, its settings bound to the link, Train / Stop and the live
curves, results, the Teach album, the photo pages' parts, and what one server shares (`ui.server`).

They live apart from `pages/`, which holds the pages and nothing else: Streamlit lists every file of a folder
named `pages/` when it serves that folder in its older mode. It does so on a fresh server until the entry point
first calls `st.navigation`, so a first visitor arriving by a page's link (`/mlp?lr=0.3`) gets that page's
script run on its own. Every page imports from this package first; importing it switches such a server to the
entry point's navigation and reruns, so the visitor sees the page they were sent, with the app's navigation.
This is the one place the dashboard reaches into Streamlit's insides (`PagesManager`, Streamlit 1.67), and
`tests/test_browser.py::test_a_deep_link_is_the_first_visit_of_a_fresh_server` checks it in a real browser.
"""

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager


def _use_our_navigation() -> None:
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_use_our_navigation()
