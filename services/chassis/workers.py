"""What a worker holds is let go as soon as it is done.

nameko's worker context, and an exception with the frames of its traceback, end up in reference
cycles, so they wait for the garbage collector, which counts objects, not bytes: the 10 MB an
upload, a base64 string or a verified PDF weighs stayed resident until some later collection,
and a service under a stream of 8 MB files sat at hundreds of megabytes. Dropping the context's
arguments when the worker ends, and the locals of a failed worker's finished frames, frees them
at once; a traceback keeps its files and lines for the log.
"""

import traceback

from nameko.extensions import DependencyProvider


class ReleaseArguments(DependencyProvider):
    def worker_teardown(self, worker_ctx):
        worker_ctx.args, worker_ctx.kwargs = (), {}


def forget_locals(exc: BaseException) -> None:
    """The locals of the finished frames in ``exc``'s traceback, dropped (running ones stay)."""
    traceback.clear_frames(exc.__traceback__)
