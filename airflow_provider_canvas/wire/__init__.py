"""Canvas's wire rules as small pure functions, shared by the sync hook and the async trigger.

Nothing here performs I/O: links, URLs, error bodies, retry policy and channel input checks are
decided from values alone, so they are unit-tested directly and written once.
"""
