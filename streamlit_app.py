"""The dashboard's entry point: `streamlit run streamlit_app.py`. It only lists the pages and runs the chosen one."""

import streamlit as st

from ui import links, navigation

st.set_page_config(page_title="Deep learning, live", layout="wide")
pages = {
    "Start": [st.Page("pages/home.py", title="Home", default=True)],
    "Learn": [
        st.Page("pages/foundations.py", title="Foundations", url_path="foundations"),
        st.Page("pages/data_prep.py", title="Data preparation", url_path="data_prep"),
    ],
    "Train": [
        st.Page("pages/linear.py", title="Linear regression", url_path="linear"),
        st.Page("pages/softmax.py", title="Softmax regression", url_path="softmax"),
        st.Page("pages/mlp.py", title="MLP", url_path="mlp"),
        st.Page("pages/resnet.py", title="ResNet", url_path="resnet"),
    ],
    "Use": [
        st.Page("pages/teach.py", title="Teach your own", url_path="teach"),
        st.Page("pages/photos.py", title="Cat, dog or neither?", url_path="photos"),
    ],
    "Results": [
        st.Page("pages/compare.py", title="Compare runs", url_path="compare"),
        st.Page("pages/ladder.py", title="Baseline ladder", url_path="ladder"),
        st.Page("pages/class.py", title="Class", url_path="class"),
    ],
}
links.watch_ignored_links()  # from the first session on: Streamlit ignores a link of over 1,000 settings
navigation.navigate(pages)  # the sidebar's links; on a phone a menu above the page
