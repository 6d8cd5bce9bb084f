"""Small clients for third-party services (one module each), shared by real services and test fakes."""
