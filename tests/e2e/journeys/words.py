"""What each language must show on the journey's pages: ``<html lang>``, labels and statuses.

The Chinese words are the catalogue's (locale/zh_Hans); a journey in Chinese that met an English label
where one of these belongs would fail here, which is the point: it catches untranslated pages.
"""

from __future__ import annotations

WORDS = {
    "en": {
        "locale": "en-US",
        "lang": "en",
        "my_claims": "My claims",
        "new_claim": "New claim",
        "expenses": "Expenses",
        "check_and_submit": "Check and submit",
        "ready": "No policy problems",
        "draft": "Draft",
        "in_approval": "In approval",
        "returned": "Returned",
        "approved": "Approved",
        "paying": "Paying",
        "paid": "Paid",
        "train": "Train",
        "taxi": "Taxi and ride-hailing",
        "approvals": "Approvals",
        "your_decision": "Your decision",
        "changes": "What changed since the last submission",
        "finance": "Finance",
        "download": "Download bank file (CSV)",
        "sandbox": "OA sandbox",
        "valid": "valid",
    },
    "zh-hans": {
        "locale": "zh-CN",
        "lang": "zh-hans",
        "my_claims": "我的报销",
        "new_claim": "新建报销单",
        "expenses": "费用明细",
        "check_and_submit": "检查并提交",
        "ready": "无政策问题",
        "draft": "草稿",
        "in_approval": "审批中",
        "returned": "已退回",
        "approved": "已批准",
        "paying": "付款中",
        "paid": "已付款",
        "train": "火车票",
        "taxi": "出租车/网约车",
        "approvals": "审批",
        "your_decision": "您的审批意见",
        "changes": "与上次提交相比的变更",
        "finance": "财务",
        "download": "下载银行文件（CSV）",
        "sandbox": "OA 沙箱",
        "valid": "有效",
    },
}
