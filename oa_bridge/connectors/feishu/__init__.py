"""Feishu / Lark: the contact directory in, events and quick approvals in, the approval centre and
messages to applicants out. See docs/connectors/feishu.md for the console steps."""

from oa_bridge.connectors.feishu.connector import FeishuConnector

__all__ = ["FeishuConnector"]
