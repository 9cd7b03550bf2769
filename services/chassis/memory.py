"""The C allocator's policy for OpenCoO's processes: buffers of 128 KiB or more get pages of
their own, given back to the system when freed.

glibc's default raises that threshold each time such a buffer is freed (up to 32 MiB), after
which the megabytes of an upload, its base64 and its RPC message come from the heap, between
small long-lived objects, and stay resident: a service that handles 8 MB files from the internet
grew by hundreds of megabytes and never shrank. A fixed threshold turns that adjustment off.
"""

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3  # malloc.h
THRESHOLD = 128 * 1024


def return_large_buffers() -> bool:
    """Fix the threshold in this process; False where the C library is not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        return bool(libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD))
    except (OSError, AttributeError):
        return False
