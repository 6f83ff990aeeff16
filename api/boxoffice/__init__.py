"""The box office in the browser: storefront, account pages, the organizer's backoffice and
the gate scanner. Jinja2 templates (`templates/`) rendered by aiohttp-jinja2, plain CSS and
JS (`static/`, served at `/static/boxoffice/`), no build step. Every page is a client of
the same JSON API a mobile app uses; pages that show a signed-in person's data fetch it
with the session token kept in localStorage (`onsale.sessionToken`), shared with the
waiting and booking pages."""
