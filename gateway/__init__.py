"""The gateway: the client-facing API and the studio's pages (`routes`), live updates over the
socket (`live`), views gathered from several stores at once (`fanout`), and what keeps the stores
behind it from being overrun (`resilience`); authentication, settings and metrics beside them."""
