"""Backtesting and evaluation against baselines."""
