"""WeCom (企业微信): the directory, encrypted callbacks, interactive approval cards, messages."""

from oa_bridge.connectors.wecom.connector import WeComConnector

__all__ = ["WeComConnector"]
