"""Routing-rule administration pages (admins only), mounted at /approvals/rules/ by approvals.urls_rules.

pages: the overview, one version, the draft editor, starting a draft and publishing; editor: the
draft's writes (rules, steps, fallback approver, matrix); simulate: the simulator and the dry run;
describe: rules in words; common: access, reads and HTMX answers.
"""
