# The survey's WSGI app for gunicorn: the static files with Content-Length
# (through wsgi.file_wrapper, i.e. sendfile), POST /early answered without
# reading the body.
import os

ROOT = os.environ["SURVEY_ROOT"]


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    method = environ.get("REQUEST_METHOD", "GET")
    if method == "POST" and path == "/early":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "6")])
        return [b"early\n"]
    if method == "GET" and path.startswith("/bytes/") and path[7:].isdigit():
        try:
            f = open(os.path.join(ROOT, "bytes", path[7:]), "rb")
        except OSError:
            start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")])
            return [b"not found\n"]
        size = os.fstat(f.fileno()).st_size
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))])
        wrapper = environ.get("wsgi.file_wrapper")
        if wrapper:
            return wrapper(f, 1 << 20)
        return iter(lambda: f.read(1 << 20), b"")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "9")])
    return [b"gunicorn\n"]
