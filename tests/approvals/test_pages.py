"""The approver's pages: inbox with filters, preview and bulk approval, the task page and its decisions,
history, delegation, notifications and the navigation badges. Data is set up through the services."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from approvals import services
from approvals.choices import TaskStatus
from approvals.models import ApprovalTask, ClaimComment, Delegation, Notification
from reimbursement import services as claims
from reimbursement.choices import ClaimStatus
from reimbursement.models import Claim
from tests.reimbursement.factories import line_input, make_claim, submit

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
INBOX = "/approvals/"


@pytest.fixture
def people(demo_company):
    return demo_company


@pytest.fixture
def liuyang(client, people):
    client.force_login(people["liuyang"].user)
    return client


def pending_task(claim: Claim) -> ApprovalTask:
    return ApprovalTask.objects.get(claim=claim, status=TaskStatus.PENDING)


def submitted(people, who: str = "zhangwei", **kwargs) -> Claim:
    claim = submit(make_claim(people[who], **kwargs))
    claim.refresh_from_db()
    return claim


def task_url(task: ApprovalTask, action: str = "") -> str:
    return f"/approvals/tasks/{task.pk}/{action + '/' if action else ''}"


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def rows(html: str) -> int:
    return html.count('data-testid="task-row"')


# --- The inbox ---------------------------------------------------------------------------------------


def test_the_inbox_lists_my_tasks_and_delegated_ones_and_no_one_elses(liuyang, people):
    mine = submitted(people, "zhangwei", purpose="Mine to approve")
    other = submitted(people, "wuhao", purpose="Zhoujing's to approve")  # wuhao's manager is zhoujing
    html = liuyang.get(INBOX).content.decode()
    assert mine.number in html and other.number not in html
    assert rows(html) == 1 and "on behalf of" not in html

    today = timezone.localdate()
    services.delegation_create(
        actor=people["zhoujing"].user, delegate=people["liuyang"], starts_on=today, ends_on=today
    )
    html = liuyang.get(INBOX).content.decode()
    assert rows(html) == 2 and other.number in html
    assert "on behalf of 周静" in html
    assert 'data-testid="delegations-to-me"' in html

    # The one who delegated still sees their own task; zhangwei (the claimant) sees none.
    liuyang.force_login(people["zhoujing"].user)
    html = liuyang.get(INBOX).content.decode()
    assert other.number in html and mine.number not in html
    liuyang.force_login(people["zhangwei"].user)
    assert rows(liuyang.get(INBOX).content.decode()) == 0


def test_the_inbox_filters_and_sorts(liuyang, people):
    small = submitted(people, "zhangwei", amount=Decimal("50.00"))
    large = submitted(people, "lina", amount=Decimal("400.00"), category="telecom")
    html = liuyang.get(INBOX, {"sort": "amount"}).content.decode()
    assert html.index(large.number) < html.index(small.number)
    html = liuyang.get(INBOX, {"amount_min": "100"}).content.decode()
    assert large.number in html and small.number not in html
    from reimbursement.models import ExpenseCategory

    telecom = ExpenseCategory.objects.get(code="telecom")
    html = liuyang.get(INBOX, {"category": telecom.pk}).content.decode()
    assert large.number in html and small.number not in html
    html = liuyang.get(INBOX, {"age": "3"}).content.decode()
    assert rows(html) == 0 and "Nothing matches these filters." in html
    ApprovalTask.objects.filter(claim=small).update(activated_at=timezone.now() - datetime.timedelta(days=4))
    html = liuyang.get(INBOX, {"age": "3"}).content.decode()
    assert small.number in html and large.number not in html
    sales = people["heming"].department.parent  # a department none of these claims belongs to
    assert rows(liuyang.get(INBOX, {"department": sales.pk}).content.decode()) == 0
    rnd = people["zhangwei"].department.parent  # Platform's parent: sub-departments are included
    assert rows(liuyang.get(INBOX, {"department": rnd.pk}).content.decode()) == 2


def _inbox_queries(client, django_assert_max_num_queries) -> str:
    with django_assert_max_num_queries(14):
        response = client.get(INBOX)
    assert response.status_code == 200
    return response.content.decode()


def test_the_inbox_runs_a_bounded_number_of_queries_for_1_or_40_tasks(liuyang, people, django_assert_max_num_queries):
    submitted(people, "zhangwei")
    assert rows(_inbox_queries(liuyang, django_assert_max_num_queries)) == 1
    reports = ["zhangwei", "lina", "wangfang", "zhaolei", "huangyan"]
    for number in range(39):
        claim = make_claim(people[reports[number % 5]], lines=2, purpose=f"Claim {number}")
        submit(claim)
    assert rows(_inbox_queries(liuyang, django_assert_max_num_queries)) == 40


def test_the_preview_shows_lines_totals_warnings_changes_chain_and_comments(liuyang, people):
    # A line above 100 without a receipt raises a warning the claimant justifies.
    claim = make_claim(people["zhangwei"], category="telecom", amount=Decimal("350.00"), description="Team dinner")
    submit(claim, justification="Dinner with the whole team after the release")
    services.task_return(task_id=pending_task(claim).pk, actor=people["liuyang"].user, reason="Add the guest list")
    line = claim.lines.get()
    claims.line_update(
        line_id=line.pk,
        actor=people["zhangwei"].user,
        data=line_input(category="telecom", amount=Decimal("320.00"), description="Team dinner, 8 people"),
    )
    submit(claim, justification="Eight people, under the cap per head")
    services.claim_comment_add(claim_id=claim.pk, actor=people["zhangwei"].user, text="Guest list attached")
    task = pending_task(claim)

    response = liuyang.get(task_url(task, "preview"), headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # a partial
    assert 'data-testid="preview"' in html and claim.number in html
    assert "Team dinner, 8 people" in html and "320.00" in html
    assert 'data-testid="policy-warnings"' in html and "Eight people, under the cap per head" in html
    assert 'data-testid="changes"' in html and "350.00" in html  # before → after
    assert "Amount in base currency" not in html  # same as the amount for a CNY line: said once
    assert 'data-testid="chain"' in html and "Add the guest list" in html  # the earlier return
    assert "Guest list attached" in html
    assert 'data-testid="preview-approve"' in html
    row = liuyang.get(INBOX).content.decode()
    assert "resubmitted" in row and "warnings" in row


# --- Decisions through the task page -----------------------------------------------------------------


def test_the_task_page_shows_the_claim_and_the_actions(liuyang, people):
    claim = submitted(people)
    response = liuyang.get(task_url(pending_task(claim)))
    assert response.status_code == 200
    html = response.content.decode()
    for testid in ("approve-form", "panel-return", "panel-reject", "panel-cut", "panel-transfer", "panel-add-approver"):
        assert f'data-testid="{testid}"' in html
    assert "Direct manager" in html  # why it was routed to me


def test_approve_through_the_page(liuyang, people):
    claim = submitted(people)
    task = pending_task(claim)
    response = liuyang.post(task_url(task, "approve"), {"approve-comment": "Fine"})
    assert response.status_code == 302 and response["Location"] == INBOX
    task.refresh_from_db()
    assert task.status == TaskStatus.APPROVED and task.comment == "Fine"
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.APPROVED
    assert f"You approved {claim.number}." in texts(response)


def test_approve_through_htmx_redirects_the_browser(liuyang, people):
    task = pending_task(submitted(people))
    response = liuyang.post(task_url(task, "approve"), {}, headers=HTMX)
    assert response.status_code == 200 and response["HX-Redirect"] == INBOX


def test_reject_with_a_reason_rejects_the_claim(liuyang, people):
    claim = submitted(people)
    response = liuyang.post(task_url(pending_task(claim), "reject"), {"reject-reason": "Private expense"})
    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.REJECTED
    assert ApprovalTask.objects.get(claim=claim, status=TaskStatus.REJECTED).comment == "Private expense"


@pytest.mark.parametrize("headers", [HTMX, {}], ids=["htmx", "plain"])
def test_reject_without_a_reason_is_400_with_the_message_and_changes_nothing(liuyang, people, headers):
    claim = submitted(people)
    task = pending_task(claim)
    seq = claim.event_seq
    response = liuyang.post(task_url(task, "reject"), {"reject-reason": "  "}, headers=headers)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Give the reason for rejecting." in html
    assert 'class="form-control is-invalid"' in html  # the field keeps its look and is marked
    assert ("<html" in html) is not bool(headers)  # HTMX gets the actions panel only
    task.refresh_from_db()
    claim.refresh_from_db()
    assert task.status == TaskStatus.PENDING and claim.status == ClaimStatus.IN_APPROVAL and claim.event_seq == seq


def test_return_sends_the_claim_back(liuyang, people):
    claim = submitted(people)
    assert liuyang.post(task_url(pending_task(claim), "return"), {"return-reason": "Wrong date"}).status_code == 302
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.RETURNED
    response = liuyang.post(task_url(pending_task(submitted(people)), "return"), {"return-reason": ""}, headers=HTMX)
    assert response.status_code == 400 and "Say what the claimant should change." in response.content.decode()


def test_transfer_hands_the_task_to_the_chosen_person(liuyang, people):
    claim = submitted(people)
    task = pending_task(claim)
    response = liuyang.post(
        task_url(task, "transfer"), {"transfer-to": people["zhoujing"].pk, "transfer-comment": "On leave"}
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.status == TaskStatus.TRANSFERRED
    assert pending_task(claim).assignee == people["zhoujing"]


def test_the_person_pickers_leave_out_me_and_the_claimant(liuyang, people):
    claim = submitted(people)
    task = pending_task(claim)
    html = liuyang.get(task_url(task)).content.decode()
    picker = html[html.index('name="transfer-to"') : html.index("</select>", html.index('name="transfer-to"'))]
    assert f'value="{people["zhoujing"].pk}"' in picker
    assert f'value="{people["liuyang"].pk}"' not in picker and f'value="{people["zhangwei"].pk}"' not in picker


def test_a_delegate_decides_on_behalf_through_the_page(liuyang, people):
    today = timezone.localdate()
    services.delegation_create(
        actor=people["zhoujing"].user, delegate=people["liuyang"], starts_on=today, ends_on=today
    )
    claim = submitted(people, "wuhao")
    task = pending_task(claim)
    html = liuyang.get(task_url(task)).content.decode()
    assert 'data-testid="on-behalf"' in html and "周静" in html
    picker = html[html.index('name="transfer-to"') : html.index("</select>", html.index('name="transfer-to"'))]
    for who in ("liuyang", "zhoujing", "wuhao"):
        assert f'value="{people[who].pk}"' not in picker
    assert liuyang.post(task_url(task, "approve"), {}).status_code == 302
    task.refresh_from_db()
    assert task.decided_by_name == "刘洋" and task.on_behalf_of_name == "周静"
    history = liuyang.get("/approvals/history/").content.decode()
    assert claim.number in history and "on behalf of 周静" in history


def test_add_an_approver_before_me_then_it_comes_back(liuyang, people):
    claim = submitted(people)
    mine = pending_task(claim)
    response = liuyang.post(
        task_url(mine, "add-approver"),
        {"add_approver-approver": people["sunli"].pk, "add_approver-position": "before", "add_approver-comment": ""},
    )
    assert response.status_code == 302 and response["Location"] == INBOX
    mine.refresh_from_db()
    assert mine.status == TaskStatus.WAITING
    assert pending_task(claim).assignee == people["sunli"]


def test_add_an_approver_after_me_keeps_my_task(liuyang, people):
    claim = submitted(people)
    mine = pending_task(claim)
    response = liuyang.post(
        task_url(mine, "add-approver"),
        {"add_approver-approver": people["yuanyuan"].pk, "add_approver-position": "after"},
    )
    assert response.status_code == 302 and response["Location"] == task_url(mine)
    services.task_approve(task_id=mine.pk, actor=people["liuyang"].user)
    assert pending_task(claim).assignee == people["yuanyuan"]


def test_cut_a_line_needs_a_reason_then_lowers_the_approved_amount(liuyang, people):
    claim = submitted(people, lines=2, amount=Decimal("100.00"))
    task = pending_task(claim)
    line = claim.lines.order_by("position", "id").first()
    refused = liuyang.post(
        task_url(task, "cut"), {"cut-line": line.pk, "cut-amount": "60.00", "cut-reason": ""}, headers=HTMX
    )
    assert refused.status_code == 400 and "Say why the amount is cut." in refused.content.decode()
    line.refresh_from_db()
    assert line.approved_amount is None
    response = liuyang.post(
        task_url(task, "cut"), {"cut-line": line.pk, "cut-amount": "60.00", "cut-reason": "Paper only"}
    )
    assert response.status_code == 302 and response["Location"] == task_url(task)
    line.refresh_from_db()
    claim.refresh_from_db()
    assert line.approved_amount == Decimal("60.00") and claim.approved_amount == Decimal("160.00")
    html = liuyang.get(task_url(task)).content.decode()
    assert 'data-testid="approved-total"' in html and "160.00" in html


def test_a_line_of_another_claim_cannot_be_cut(liuyang, people):
    task = pending_task(submitted(people))
    foreign = make_claim(people["lina"]).lines.get()
    response = liuyang.post(task_url(task, "cut"), {"cut-line": foreign.pk, "cut-amount": "1", "cut-reason": "x"})
    assert response.status_code == 400
    foreign.refresh_from_db()
    assert foreign.approved_amount is None


def test_comment_through_the_page(liuyang, people):
    claim = submitted(people)
    task = pending_task(claim)
    assert liuyang.post(task_url(task, "comment"), {"comment-text": ""}).status_code == 400
    response = liuyang.post(task_url(task, "comment"), {"comment-text": "Which project?"})
    assert response.status_code == 302
    assert ClaimComment.objects.get(claim=claim).text == "Which project?"
    assert "Which project?" in liuyang.get(task_url(task)).content.decode()


def test_a_second_approve_is_a_409_with_a_clear_message_and_the_page_still_works(liuyang, people):
    claim = submitted(people)
    task = pending_task(claim)
    assert liuyang.post(task_url(task, "approve"), {}).status_code == 302
    again = liuyang.post(task_url(task, "approve"), {}, headers=HTMX)
    assert again.status_code == 409
    assert again["HX-Retarget"] == "body"  # the chain and the menu's count changed too
    html = again.content.decode()
    assert "already decided" in html and 'data-testid="task-closed"' in html
    plain = liuyang.post(task_url(task, "approve"), {})
    assert plain.status_code == 409 and "already decided" in plain.content.decode()
    page = liuyang.get(task_url(task))
    assert page.status_code == 200 and 'data-testid="approve-form"' not in page.content.decode()


def test_someone_elses_task_is_404(client, people):
    task = pending_task(submitted(people))
    client.force_login(people["zhoujing"].user)
    assert client.get(task_url(task)).status_code == 404
    assert client.get(task_url(task, "preview"), headers=HTMX).status_code == 404
    for action, data in [("approve", {}), ("reject", {"reject-reason": "x"}), ("comment", {"comment-text": "x"})]:
        assert client.post(task_url(task, action), data).status_code == 404
    task.refresh_from_db()
    assert task.status == TaskStatus.PENDING


def test_pages_need_a_sign_in(client, people):
    task = pending_task(submitted(people))
    for url in (INBOX, task_url(task), "/approvals/history/", "/approvals/delegation/", "/approvals/notifications/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# --- Bulk approval -----------------------------------------------------------------------------------


def test_bulk_approve_approves_the_rest_and_reports_the_one_already_decided(liuyang, people):
    first, second, third = (submitted(people, who) for who in ("zhangwei", "lina", "wangfang"))
    decided = pending_task(second)
    services.task_approve(task_id=decided.pk, actor=people["liuyang"].user)  # e.g. in another tab
    ids = [pending_task(first).pk, decided.pk, pending_task(third).pk]
    response = liuyang.post("/approvals/bulk-approve/", {"task": ids, "next": INBOX})
    assert response.status_code == 302 and response["Location"] == INBOX
    for claim in (first, second, third):
        assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.APPROVED
    messages = texts(response)
    assert any("2 claims approved" in m and first.number in m and third.number in m for m in messages)
    refusals = [m for m in messages if "was not approved" in m]
    assert len(refusals) == 1 and second.number in refusals[0] and "already decided" in refusals[0]


def test_bulk_approve_refuses_tasks_that_are_not_mine(liuyang, people):
    other = pending_task(submitted(people, "wuhao"))
    response = liuyang.post("/approvals/bulk-approve/", {"task": [other.pk]})
    other.refresh_from_db()
    assert other.status == TaskStatus.PENDING
    [message] = texts(response)
    assert f"#{other.pk} was not approved" in message  # its claim number is not shown to a stranger


def test_bulk_approve_with_nothing_ticked_says_so(liuyang, people):
    response = liuyang.post("/approvals/bulk-approve/", {})
    assert response.status_code == 302 and texts(response) == ["Tick the claims to approve first."]


# --- History, delegation, notifications --------------------------------------------------------------


def test_history_lists_what_i_decided_newest_first(liuyang, people):
    older, newer = submitted(people, "zhangwei"), submitted(people, "lina")
    services.task_approve(task_id=pending_task(older).pk, actor=people["liuyang"].user, comment="ok")
    services.task_reject(task_id=pending_task(newer).pk, actor=people["liuyang"].user, reason="No receipt")
    submitted(people, "wangfang")  # still pending: not history
    html = liuyang.get("/approvals/history/").content.decode()
    assert html.count('data-testid="history-row"') == 2
    assert html.index(newer.number) < html.index(older.number)
    assert "No receipt" in html


def test_delegation_create_list_and_end(liuyang, people):
    today = timezone.localdate()
    response = liuyang.post(
        "/approvals/delegation/",
        {
            "delegate": people["zhoujing"].pk,
            "starts_on": today.isoformat(),
            "ends_on": (today + datetime.timedelta(days=5)).isoformat(),
        },
    )
    assert response.status_code == 302
    delegation = Delegation.objects.get(delegator=people["liuyang"])
    assert delegation.delegate == people["zhoujing"] and delegation.active
    html = liuyang.get("/approvals/delegation/").content.decode()
    assert "周静" in html[html.index('data-testid="delegations-given"') :]

    past = liuyang.post(
        "/approvals/delegation/",
        {"delegate": people["zhoujing"].pk, "starts_on": "2020-01-01", "ends_on": "2020-01-02"},
    )
    assert past.status_code == 400 and "The end is in the past." in past.content.decode()

    assert liuyang.post(f"/approvals/delegation/{delegation.pk}/end/").status_code == 302
    delegation.refresh_from_db()
    assert not delegation.active

    liuyang.force_login(people["zhoujing"].user)
    html = liuyang.get("/approvals/delegation/").content.decode()
    assert "刘洋" in html[html.index('data-testid="delegations-received"') :]
    assert liuyang.post(f"/approvals/delegation/{delegation.pk}/end/").status_code == 404  # not hers to end


def test_notifications_newest_first_unread_highlighted_mark_all_read(client, people):
    claim = submitted(people)
    services.task_approve(task_id=pending_task(claim).pk, actor=people["liuyang"].user)
    zhangwei = people["zhangwei"].user
    client.force_login(zhangwei)
    html = client.get("/approvals/notifications/").content.decode()
    assert html.count('data-testid="notification-unread"') == 2  # submitted, approved
    assert html.index("was approved") < html.index("was submitted")

    newest = Notification.objects.filter(recipient=zhangwei).first()
    response = client.get(f"/approvals/notifications/{newest.pk}/")
    assert response.status_code == 302 and response["Location"] == newest.url
    newest.refresh_from_db()
    assert newest.read_at is not None

    assert client.post("/approvals/notifications/read/").status_code == 302
    assert not Notification.objects.filter(recipient=zhangwei, read_at__isnull=True).exists()
    other = Notification.objects.filter(recipient=people["liuyang"].user).first()
    assert client.get(f"/approvals/notifications/{other.pk}/").status_code == 404


def _badge(html: str, label: str) -> str | None:
    link = html[html.index(f"> {label}") :]
    link = link[: link.index("</a>")]
    if "badge" not in link:
        return None
    return link.split('text-bg-warning">', 1)[1].split("<", 1)[0]


def test_navigation_badges_count_pending_tasks_and_unread_notifications(liuyang, people):
    assert _badge(liuyang.get("/").content.decode(), "Approvals") is None
    for who in ("zhangwei", "lina", "wangfang"):
        submitted(people, who)
    submitted(people, "wuhao")  # zhoujing's
    html = liuyang.get("/").content.decode()
    assert _badge(html, "Approvals") == "3"
    assert _badge(html, "Notifications") == "3"  # one "waits for your approval" each
    liuyang.post("/approvals/notifications/read/")
    assert _badge(liuyang.get("/").content.decode(), "Notifications") is None


def test_only_the_most_specific_navigation_entry_is_current(liuyang, people):
    html = liuyang.get("/approvals/notifications/").content.decode()
    assert html.count('aria-current="page"') == 1
    current = html[html.index('aria-current="page"') :]
    assert current.index("Notifications") < current.index("</a>")


def test_the_inbox_page_in_chinese(liuyang, people):
    submitted(people)
    response = liuyang.get(INBOX, headers={"accept-language": "zh-CN,zh;q=0.9"})
    assert response.status_code == 200 and 'lang="zh-hans"' in response.content.decode()


def test_reverse_names_exist():
    assert reverse("approvals:inbox") == INBOX


def test_the_menu_count_agrees_with_the_inbox_selector_through_every_kind_of_delegation(people):
    from approvals.selectors import pending_count
    from approvals.views.common import pending_task_count
    from reimbursement.models import ExpenseCategory

    liuyang = people["liuyang"].user
    today = timezone.localdate()
    submitted(people, "zhangwei")  # mine
    submitted(people, "wuhao")  # zhoujing's: office supplies
    submitted(people, "xuli", category="telecom")  # zhoujing's: telecom
    submitted(people, "heming")  # guoping's: never delegated to liuyang

    def both() -> tuple[int, int]:
        return pending_count(liuyang), pending_task_count(liuyang)

    assert both() == (1, 1)
    limited = services.delegation_create(
        actor=people["zhoujing"].user,
        delegate=people["liuyang"],
        starts_on=today,
        ends_on=today,
        category_ids=[ExpenseCategory.objects.get(code="telecom").pk, ExpenseCategory.objects.get(code="hotel").pk],
    )
    assert both() == (2, 2)  # the telecom claim only, counted once though two categories are delegated
    services.delegation_end(delegation_id=limited.pk, actor=people["zhoujing"].user)
    assert both() == (1, 1)
    services.delegation_create(
        actor=people["zhoujing"].user,
        delegate=people["liuyang"],
        starts_on=today + datetime.timedelta(days=1),
        ends_on=today + datetime.timedelta(days=2),
    )
    assert both() == (1, 1)  # not yet in force
    services.delegation_create(
        actor=people["zhoujing"].user, delegate=people["liuyang"], starts_on=today, ends_on=today
    )
    assert both() == (3, 3)
    assert pending_task_count(people["admin"].user) == 0


def test_notifications_are_shown_in_the_readers_language(client, people):
    claim = submitted(people)
    zhangwei = people["zhangwei"].user
    stored = Notification.objects.get(recipient=zhangwei, verb="claim.submitted")
    assert stored.message.startswith("Your claim")  # written in the server's language (emails)
    client.force_login(zhangwei)
    html = client.get("/approvals/notifications/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert f"您的报销单 {claim.number}" in html and "Your claim" not in html
    html = client.get("/approvals/notifications/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"Your claim {claim.number}" in html
