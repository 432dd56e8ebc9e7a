"""Sign-in, lockout, the UI shell, languages, headers and error pages."""

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

PASSWORD = "baoxiao-demo"


def login(client, username, password=PASSWORD, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


def test_signing_in_shows_my_name_department_and_manager_chain(client, demo_company):
    response = login(client, "zhangwei", follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "张伟" in html
    assert "平台组 Platform" in html and "研发中心 R&amp;D" in html
    chain = html[html.index('data-testid="manager-chain"') :]
    assert chain.index("刘洋") < chain.index("陈杰") < chain.index("王建国")


def test_pages_need_a_sign_in(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_wrong_password_shows_a_message_and_counts_towards_lockout(client, demo_company):
    response = login(client, "zhangwei", "wrong-password")
    assert response.status_code == 200
    assert 'data-testid="login-error"' in response.content.decode()
    from axes.models import AccessAttempt

    assert AccessAttempt.objects.get(username="zhangwei").failures_since_start == 1


def test_lockout_holds_for_the_attacked_account_only(client, demo_company):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "zhangwei", "wrong-password")
    locked = login(client, "zhangwei")  # even the right password is refused while locked
    assert locked.status_code == 429
    assert 'data-testid="locked-out"' in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # Same client, same address: another account still signs in.
    assert login(client, "lina").status_code == 302


def test_navigation_follows_roles(client, demo_company):
    client.force_login(demo_company["zhangwei"].user)
    assert "/admin/" not in client.get("/").content.decode()
    client.force_login(demo_company["admin"].user)
    assert "/admin/" in client.get("/").content.decode()


def test_the_browser_language_picks_chinese(client, demo_company):
    client.force_login(demo_company["zhangwei"].user)
    html = client.get("/", headers={"accept-language": "zh-CN,zh;q=0.9"}).content.decode()
    assert '<html lang="zh-hans">' in html
    assert "上级链" in html and "退出" in html


def test_the_language_switcher_overrides_the_browser(client, demo_company):
    client.force_login(demo_company["zhangwei"].user)
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    html = client.get("/", headers={"accept-language": "en"}).content.decode()
    assert '<html lang="zh-hans">' in html


def test_every_page_carries_a_csp_without_inline_script(client, demo_company):
    client.force_login(demo_company["zhangwei"].user)
    for url in ["/", "/org/", "/accounts/login/"]:
        csp = client.get(url)["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    html = client.get("/").content.decode()
    assert "<script>" not in html and " style=" not in html


def test_static_assets_are_served_locally(client, demo_company):
    client.force_login(demo_company["zhangwei"].user)
    html = client.get("/").content.decode()
    assert "https://" not in html.split("<body")[0]
    for asset in ["vendor/bootstrap/bootstrap.min.css", "vendor/htmx/htmx.min.js", "js/app.js"]:
        assert f"/static/{asset}" in html


def test_unknown_urls_show_the_styled_404(client, demo_company):
    client.force_login(demo_company["zhangwei"].user)
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert 'data-testid="not-found"' in response.content.decode()


def test_directory_lists_the_tree_in_bounded_queries(client, demo_company, django_assert_max_num_queries):
    client.force_login(demo_company["zhangwei"].user)
    with django_assert_max_num_queries(8):
        response = client.get("/org/")
    html = response.content.decode()
    assert html.index("总部 Head Office") < html.index("研发中心 R&amp;D") < html.index("平台组 Platform")
    platform = demo_company["zhangwei"].department
    response = client.get(f"/org/departments/{platform.pk}/?q=张")
    assert "张伟" in response.content.decode() and "李娜" not in response.content.decode()


def test_password_change_works_and_keeps_me_signed_in(client, demo_company):
    client.force_login(demo_company["zhangwei"].user)
    response = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": "a-new-Passw0rd!", "new_password2": "a-new-Passw0rd!"},
        follow=True,
    )
    assert 'data-testid="password-changed"' in response.content.decode()
    client.logout()
    assert login(client, "zhangwei", "a-new-Passw0rd!").status_code == 302
