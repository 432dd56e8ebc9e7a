"""The demo company: departments on three levels and 32 people with managers and heads.

Kept as data so the seed command, the OA sandbox and tests can share it.
"""

from __future__ import annotations

DEMO_PASSWORD = "baoxiao-demo"  # noqa: S105 - printed to the user on purpose; demo data only

# (code, name, parent code)
DEPARTMENTS: list[tuple[str, str, str | None]] = [
    ("hq", "总部 Head Office", None),
    ("rnd", "研发中心 R&D", "hq"),
    ("platform", "平台组 Platform", "rnd"),
    ("mobile", "移动组 Mobile", "rnd"),
    ("sales", "销售部 Sales", "hq"),
    ("sales-east", "华东销售 East China Sales", "sales"),
    ("sales-south", "华南销售 South China Sales", "sales"),
    ("finance", "财务部 Finance", "hq"),
    ("hr", "人力行政部 HR & Admin", "hq"),
]

# (username, name, employee no, department code, manager username, title, level, roles, heads dept)
PEOPLE: list[tuple[str, str, str, str, str | None, str, int, tuple[str, ...], bool]] = [
    ("wangjianguo", "王建国", "E0001", "hq", None, "CEO", 9, ("employee",), True),
    ("chenjie", "陈杰", "E0002", "rnd", "wangjianguo", "CTO", 8, ("employee",), True),
    ("liuyang", "刘洋", "E0003", "platform", "chenjie", "Platform team lead", 6, ("employee",), True),
    ("zhangwei", "张伟", "E0004", "platform", "liuyang", "Senior engineer", 4, ("employee",), False),
    ("lina", "李娜", "E0005", "platform", "liuyang", "Engineer", 3, ("employee",), False),
    ("wangfang", "王芳", "E0006", "platform", "liuyang", "Engineer", 3, ("employee",), False),
    ("zhaolei", "赵磊", "E0007", "platform", "liuyang", "Engineer", 2, ("employee",), False),
    ("huangyan", "黄艳", "E0008", "platform", "liuyang", "QA engineer", 3, ("employee",), False),
    ("zhoujing", "周静", "E0009", "mobile", "chenjie", "Mobile team lead", 6, ("employee",), True),
    ("wuhao", "吴昊", "E0010", "mobile", "zhoujing", "iOS engineer", 3, ("employee",), False),
    ("xuli", "徐丽", "E0011", "mobile", "zhoujing", "Android engineer", 3, ("employee",), False),
    ("sunqiang", "孙强", "E0012", "mobile", "zhoujing", "Designer", 3, ("employee",), False),
    ("mating", "马婷", "E0013", "mobile", "zhoujing", "Engineer", 2, ("employee",), False),
    ("hujun", "胡军", "E0014", "sales", "wangjianguo", "VP Sales", 8, ("employee",), True),
    ("guoping", "郭平", "E0015", "sales-east", "hujun", "East China sales lead", 6, ("employee",), True),
    ("heming", "何明", "E0016", "sales-east", "guoping", "Account manager", 4, ("employee",), False),
    ("linxue", "林雪", "E0017", "sales-east", "guoping", "Account manager", 4, ("employee",), False),
    ("luotao", "罗涛", "E0018", "sales-east", "guoping", "Sales representative", 3, ("employee",), False),
    ("gaoyun", "高云", "E0019", "sales-east", "guoping", "Sales representative", 2, ("employee",), False),
    ("liangbo", "梁波", "E0020", "sales-south", "hujun", "South China sales lead", 6, ("employee",), True),
    ("songjia", "宋佳", "E0021", "sales-south", "liangbo", "Account manager", 4, ("employee",), False),
    ("tangxin", "唐欣", "E0022", "sales-south", "liangbo", "Sales representative", 3, ("employee",), False),
    ("hanmei", "韩梅", "E0023", "sales-south", "liangbo", "Sales representative", 3, ("employee",), False),
    ("fengyu", "冯宇", "E0024", "sales-south", "liangbo", "Sales representative", 2, ("employee",), False),
    ("sunli", "孙丽", "E0025", "finance", "wangjianguo", "CFO", 8, ("employee", "finance"), True),
    ("caihong", "蔡红", "E0026", "finance", "sunli", "Accountant", 4, ("employee", "finance"), False),
    ("dengyi", "邓毅", "E0027", "finance", "sunli", "Payments clerk", 3, ("employee", "finance"), False),
    ("auditor", "许审计", "E0028", "finance", "sunli", "Internal auditor", 5, ("employee", "auditor"), False),
    ("yuanyuan", "袁媛", "E0029", "hr", "wangjianguo", "HR director", 7, ("employee",), True),
    ("panlei", "潘磊", "E0030", "hr", "yuanyuan", "HR specialist", 3, ("employee",), False),
    ("dongqing", "董青", "E0031", "hr", "yuanyuan", "Office manager", 3, ("employee",), False),
    (
        "admin",
        "系统管理员 Admin",
        "E0032",
        "hr",
        "yuanyuan",
        "System administrator",
        5,
        ("employee", "admin"),
        False,
    ),
]

# The logins worth trying first, printed by `make run`: (username, what to try with it).
SHOWCASE_LOGINS: list[tuple[str, str]] = [
    ("zhangwei", "employee: submits claims (manager: liuyang)"),
    ("liuyang", "manager: approves the Platform team's claims"),
    ("chenjie", "department head of R&D"),
    ("sunli", "finance: pays and audits"),
    ("auditor", "auditor: read-only compliance view"),
    ("admin", "administrator: rules, policies, connectors, Django admin"),
]
