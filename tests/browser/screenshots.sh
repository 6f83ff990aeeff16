#!/bin/sh
# Screenshots of every box office page, at desktop (1280 px) and phone (390 px) width, into
# docs/img/ (or the folder given): the browser journeys (and the fairness and waiting-list
# pages' tests) run with ONSALE_SCREENSHOT_DIR set, so each picture is a page as a journey
# left it, after its axe-core check.
# Usage (from the repository root, with Postgres and Redis running):
#   sh tests/browser/screenshots.sh [folder]
set -e
ONSALE_SCREENSHOT_DIR="${1:-docs/img}" exec "${PYTHON:-python}" -m pytest -q \
    tests/browser/test_boxoffice_journeys.py tests/browser/test_fairness_page.py \
    tests/browser/test_waiting_list_page.py
