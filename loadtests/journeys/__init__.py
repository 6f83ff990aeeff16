"""Locust journeys of an on-sale: fans, browsers, abandoners and bots, and the load shapes.

Imported only by loadtests/locustfile.py (Locust monkey-patches the process
with gevent first); nothing else in onsale imports these modules.
"""
