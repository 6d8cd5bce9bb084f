"""The HTTP floor: a Falcon app that validates, records and enqueues; never does the work itself."""
