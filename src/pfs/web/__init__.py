"""The web file manager's assets (HTML, CSS, ES modules; no build step) and the pieces of its
look that other front ends share (httpfs listings use the same stylesheet and size units).

Neutral like pfs.http: it imports neither the server nor a plugin, so both may use it.
"""
