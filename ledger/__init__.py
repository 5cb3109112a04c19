"""TrustLedger core: certificates, the review log and disputes, anchored on an EVM chain."""

__version__ = "0.1.0"
