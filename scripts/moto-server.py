"""moto's S3 server, with conditional writes made atomic.

moto checks `If-None-Match: *` and then stores the object, in a server that
handles each request in its own thread: two creates of one key that race can
both succeed (seen here: 1 round in 200 of 8 racing PUTs, and once as a lost
commit in the S3 swarm test). Real S3, MinIO and R2 decide a conditional write
atomically, and the engine's commit point relies on it. This launcher puts a
lock around moto's object PUT so that the test server keeps that promise, then
runs moto's own `moto_server` entry point with the arguments given.
crates/sop/tests/s3.rs checks the promise on the running server.
"""

import sys
import threading

from moto.s3.responses import S3Response
from moto.server import main

_lock = threading.Lock()
_put_object = S3Response.put_object


def _put_object_atomically(self, *args, **kwargs):
    with _lock:
        return _put_object(self, *args, **kwargs)


S3Response.put_object = _put_object_atomically

if __name__ == "__main__":
    sys.argv[0] = "moto_server"
    main()
