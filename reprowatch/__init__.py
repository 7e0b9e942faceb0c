"""reprowatch — 违法辅助生殖广告监测系统 (monitoring of illegal assisted-reproduction ads)."""

__version__ = "0.1.0"
