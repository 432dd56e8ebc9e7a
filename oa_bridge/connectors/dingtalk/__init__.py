"""DingTalk (钉钉): the directory, HTTP event callbacks, to-dos linking to Baoxiao, work notifications."""

from oa_bridge.connectors.dingtalk.connector import DingTalkConnector

__all__ = ["DingTalkConnector"]
