"""gridmap: GIS spatial analysis and map portal for grid-based community governance (网格化服务管理)."""

__version__ = "0.1.0"
