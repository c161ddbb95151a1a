"""Request handlers per verb family: read (get/list), watch, write (create/update/patch),
delete, and the subresources (status, scale, binding, eviction, log, finalize)."""
